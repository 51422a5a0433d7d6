"""exclusion: people who must not be approached (again) are kept but left out of every wave.

The exclusion holds by hand too: a step that approaches the person (from the route's first
state to a state that is not final, e.g. ``invite``) is refused while the case is marked
excluded, in ``case advance``, ``case apply`` and a wave alike. A coordinator may override it
(``case advance ID invite --override-exclusion --note REASON``); the step then records which
exclusion was overridden. Not a person flagged moved or deceased: nothing more is sent to
them, so that block is not overridden (a wrong flag is cleared with ``case flag ID none``).
Declining or closing stays possible. The case's ``excluded`` reason stays visible in
``casework cohort excluded``.

Reasons: in contact with the social team (``social_team_contact``), guidance within the last
``rules.exclusion.guidance_months`` months (``recent_guidance``), flagged as moved or deceased.
(Already in a case of the same route: the import adds nothing for them.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from casework.calendar import add_months
from casework.models import PERSON_FLAGS
from casework.rules.hookspecs import Block, RuleContext, Setting, hookimpl

if TYPE_CHECKING:
    from casework.engine import CaseSnapshot
    from casework.workflow import Route, TransitionSpec

NAME = "exclusion"


@hookimpl
def overridable() -> str:
    """A coordinator may invite someone the rule keeps out, saying why."""
    return "exclusion.override"


@hookimpl
def rule_settings() -> list[Setting]:
    return [Setting("rules.exclusion.guidance_months", 24,
                    "people with guidance within this many months are not approached")]


# reason -> what it says of the person (the reasons this rule gives)
WORDS = {
    "moved": "has moved away",
    "deceased": "has died",
    "social_team_contact": "is in contact with the social team (WIJ-team)",
    "recent_guidance": "had guidance within the last {months} months",
}
# Flags that mean nothing more may be sent to the person: these exclusions are not overridden.
GONE = PERSON_FLAGS
# The same in Dutch, for the web front's pages.
WORDS_NL = {
    "moved": "is verhuisd",
    "deceased": "is overleden",
    "social_team_contact": "heeft contact met het sociaal team (WIJ-team)",
    "recent_guidance": "had in de afgelopen {months} maanden begeleiding",
}


@hookimpl
def transition_hooks(route: Route, transition: TransitionSpec) -> list[str]:
    """Only a first step that does not close the case approaches the person."""
    if transition.source != route.initial or route.is_final(transition.dest):
        return []
    return ["check_transition"]


@hookimpl
def check_transition(ctx: RuleContext, route: Route, case: CaseSnapshot,
                     transition: TransitionSpec) -> list[Block]:
    if not case.excluded or case.state != route.initial or route.is_final(transition.dest):
        return []
    months = ctx.engine.settings["rules.exclusion.guidance_months"]
    words = WORDS.get(case.excluded, "is kept out ({reason})").format(
        months=months, reason=case.excluded)
    words_nl = WORDS_NL.get(case.excluded, "is uitgesloten ({reason})").format(
        months=months, reason=case.excluded)
    if case.excluded in GONE:  # nothing more is sent to them: no one overrides that
        return [Block(NAME, f"excluded ({case.excluded}): the person {words}, so nothing is "
                            "sent to them and they are not approached; if the flag is wrong, "
                            f"clear it with 'casework case flag {case.id} none'",
                      code=case.excluded, overridable=False,
                      says=f"Uitgesloten: de persoon {words_nl}; er wordt niets meer naartoe "
                           "gestuurd en de persoon wordt niet benaderd. Klopt dat niet, haal "
                           "dan eerst de markering weg.")]
    return [Block(NAME, f"excluded ({case.excluded}): the person {words}, so they are not "
                        "approached; a coordinator may do it anyway with --override-exclusion "
                        "--note REASON", code=case.excluded,
                  says=f"Uitgesloten: de persoon {words_nl} en wordt daarom niet benaderd. "
                       "Een coördinator kan dat toch doen, met een reden.")]


@hookimpl
def exclude_participant(participant: Mapping[str, Any], today: date,
                        settings: Any) -> str | None:
    flag = participant.get("flag")
    if flag in GONE:
        return str(flag)
    if participant.get("wij_team_contact"):
        return "social_team_contact"
    last = participant.get("last_guidance")
    months = int(settings["rules.exclusion.guidance_months"])
    if last is not None and months > 0 and last > add_months(today, -months):
        return "recent_guidance"
    return None

