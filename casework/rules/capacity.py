"""capacity: partners are not flooded.

A partner's intake per month can be capped (``[rules.capacity.partner_intake]``, partner =
referrals per month); a referral over the cap is blocked with the first month that has room.
(The size of a wave per wijk is ``planning.wave_size``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from casework.calendar import add_months
from casework.rules.hookspecs import Block, RuleContext, Setting, hookimpl

if TYPE_CHECKING:
    from casework.engine import Step
    from casework.workflow import Route, TransitionSpec

NAME = "capacity"


def _intake_problem(caps: Any) -> str | None:
    for partner, cap in caps.items():
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
            return f"setting 'rules.capacity.partner_intake.{partner}' must be a whole number >= 1"
    return None


@hookimpl
def rule_settings() -> list[Setting]:
    return [Setting("rules.capacity.partner_intake", {}, "per partner: most referrals per month",
                    check=_intake_problem)]
LOOK_AHEAD_MONTHS = 24


def _month_count(ctx: RuleContext, partner: str, month: date) -> int:
    from casework.models import Referral

    tz = ctx.engine.tz
    start = datetime.combine(month, time(), tzinfo=tz)
    end = datetime.combine(add_months(month, 1), time(), tzinfo=tz)
    stored = ctx.conn.execute(
        select(func.count()).select_from(Referral)
        .where(Referral.partner == partner, Referral.status != "withdrawn",
               Referral.referred_at >= start, Referral.referred_at < end)
    ).scalar_one()
    pending: dict[tuple[str, date], int] = ctx.pending.get("referrals", {})
    return int(stored) + pending.get((partner, month), 0)


@hookimpl
def transition_hooks(transition: TransitionSpec) -> list[str]:
    """Only a referral counts toward a partner's cap (the only step that refers)."""
    return ["check_transition", "after_transition"] if transition.records == "referral" else []


@hookimpl
def check_transition(ctx: RuleContext, route: Route, transition: TransitionSpec,
                     data: Mapping[str, Any], at: datetime | None) -> list[Block]:
    if transition.records != "referral" or "partner" not in data:
        return []
    partner = data["partner"]
    caps: dict[str, int] = ctx.engine.settings["rules.capacity.partner_intake"]
    cap = caps.get(partner)
    if not cap:
        return []
    moment = (at or ctx.engine.now()).astimezone(ctx.engine.tz)
    month = moment.date().replace(day=1)
    if _month_count(ctx, partner, month) < cap:
        return []
    for ahead in range(1, LOOK_AHEAD_MONTHS + 1):
        later = add_months(month, ahead)
        if _month_count(ctx, partner, later) < cap:
            room = f"{later:%Y-%m}"
            break
    else:
        room = f"not within {LOOK_AHEAD_MONTHS} months"
    from casework.display import month_label

    room_nl = (month_label(room) if room[:1].isdigit()
               else f"niet binnen {LOOK_AHEAD_MONTHS} maanden")
    field = route.fields.get("partner")
    name = field.label_of(partner) if field is not None else partner
    return [Block(NAME, f"{partner} takes at most {cap} referrals a month and {month:%Y-%m} "
                        f"is full; the first month with room is {room}",
                  says=f"{name} neemt ten hoogste {cap} verwijzingen per maand aan en "
                       f"{month_label(f'{month:%Y-%m}')} is vol; de eerste maand met ruimte "
                       f"is {room_nl}.")]


@hookimpl
def after_transition(ctx: RuleContext, step: Step) -> None:
    # Referrals planned in this transaction and not written yet count toward their partner's
    # cap (only a capped partner's are ever looked up: without caps, nothing to count).
    caps: dict[str, int] = ctx.engine.settings["rules.capacity.partner_intake"]
    if not caps:
        return
    from casework.effects import Refer  # a step's effects: not needed to read a case

    for effect in step.effects:
        if isinstance(effect, Refer) and caps.get(effect.partner):
            month = step.at.astimezone(ctx.engine.tz).date().replace(day=1)
            pending: dict[tuple[str, date], int] = ctx.pending.setdefault("referrals", {})
            key = (effect.partner, month)
            pending[key] = pending.get(key, 0) + 1
