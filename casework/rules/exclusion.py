"""exclusion: people who must not be approached (again) are kept but left out of every wave.

A case worker who invites such a person by hand (``case advance``) does so knowingly; the
case's ``excluded`` reason stays visible in ``casework cohort excluded``.

Reasons: in contact with the social team (``social_team_contact``), guidance within the last
``rules.exclusion.guidance_months`` months (``recent_guidance``), flagged as moved or deceased.
(Already in a case of the same route: the import adds nothing for them.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from casework.calendar import add_months
from casework.rules.hookspecs import hookimpl

if TYPE_CHECKING:
    from casework.workflow import Route

NAME = "exclusion"
REASONS = ("moved", "deceased", "social_team_contact", "recent_guidance")


@hookimpl
def exclude_participant(participant: Mapping[str, Any], route: Route, today: date,
                        settings: Any) -> str | None:
    flag = participant.get("flag")
    if flag in ("moved", "deceased"):
        return str(flag)
    if participant.get("wij_team_contact"):
        return "social_team_contact"
    last = participant.get("last_guidance")
    months = int(settings["rules.exclusion.guidance_months"])
    if last is not None and months > 0 and last > add_months(today, -months):
        return "recent_guidance"
    return None

