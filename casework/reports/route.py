"""The evaluation tables of a route, counted from case events as of a date.

Every figure is aggregate SQL over the events recorded up to the end of the as-of day (a
referral or conversation recorded later does not count); nothing is a stored total. A person
reached in several cases counts once per row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, or_, select

from casework.engine import Engine
from casework.models import Case, Event, Task
from casework.reports.scope import (
    Scope,
    case_conditions,
    check,
    count_if,
    counted,
    end_of,
    event_conditions,
    field,
    partner_labels,
    persons_if,
)

OUTCOME_KEYS = (
    "approached", "spoken", "socially_active", "socially_active_with_potential",
    "work_potential", "not_active", "not_active_with_potential",
    "participation_potential_total", "potential_self", "potential_supported", "became_active",
)

PARTICIPATION_CLASSES = ("socially_active", "not_active")


def outcomes(engine: Engine, scope: Scope) -> dict[str, Any]:
    """The Kansen in Kaart results table: approached, spoken, classification, potential,
    referrals per partner, became active; and spoken / socially active per wijk."""
    check(engine, scope)
    approached, spoken, started = (Event.trigger.in_(counted(engine, scope, role))
                                   for role in ("approached", "spoken", "started"))
    triggers = counted(engine, scope, "approached", "spoken", "started")
    per_person = (
        select(
            Case.participant_id.label("person"),
            func.max(Case.wijk).label("wijk"),
            func.max(case((approached, 1), else_=0)).label("approached"),
            func.max(case((spoken, 1), else_=0)).label("spoken"),
            func.max(case((spoken, field("classification")),
                          else_=None)).label("classification"),
            func.max(case((spoken, field("participation_potential")),
                          else_=None)).label("potential"),
            func.max(case((started, 1), else_=0)).label("active"),
        )
        .join(Case, Case.id == Event.case_id)
        .where(*event_conditions(engine, scope, triggers))
        .group_by(Case.participant_id)
        .subquery()
    )
    p = per_person.c
    with_potential = p.potential.in_(("self", "supported"))
    # Participation potential is counted among the socially active and the not socially
    # active (the council's table); work potential is a class of its own, so its "self" or
    # "supported" is not participation potential and counts in neither the total nor the split.
    participation_class = p.classification.in_(PARTICIPATION_CLASSES)
    # One row per wijk (each person in one wijk); the totals are their sums.
    per_wijk = select(
        p.wijk.label("wijk"),
        count_if(p.approached == 1).label("approached"),
        count_if(p.spoken == 1).label("spoken"),
        count_if(p.classification == "socially_active").label("socially_active"),
        count_if(and_(p.classification == "socially_active", with_potential))
        .label("socially_active_with_potential"),
        count_if(p.classification == "work_potential").label("work_potential"),
        count_if(p.classification == "not_active").label("not_active"),
        count_if(and_(p.classification == "not_active", with_potential))
        .label("not_active_with_potential"),
        count_if(and_(participation_class, with_potential))
        .label("participation_potential_total"),
        count_if(and_(participation_class, p.potential == "self")).label("potential_self"),
        count_if(and_(participation_class, p.potential == "supported"))
        .label("potential_supported"),
        count_if(p.active == 1).label("became_active"),
    ).group_by(p.wijk).order_by(p.wijk)
    partner = field("partner")
    referrals = (
        select(partner.label("partner"),
               persons_if(literal(True), Case.participant_id).label("referred"))
        .join(Case, Case.id == Event.case_id)
        .where(*event_conditions(engine, scope, counted(engine, scope, "referred")))
        .group_by(partner).order_by(partner)
    )
    with engine.db.connect() as conn:
        wijken = [{k: (v if k == "wijk" else int(v)) for k, v in r._mapping.items()}
                  for r in conn.execute(per_wijk)]
        per_partner = {r.partner: int(r.referred) for r in conn.execute(referrals)}
    totals = {key: sum(w[key] for w in wijken) for key in OUTCOME_KEYS}
    return {
        "report": "outcomes", **scope.as_dict(), **totals,
        "referrals": {"per_partner": per_partner, "total": sum(per_partner.values())},
        "per_wijk": [{k: w[k] for k in ("wijk", "approached", "spoken", "socially_active")}
                     for w in wijken],
    }


def response(engine: Engine, scope: Scope) -> dict[str, Any]:
    """Response per wijk and per invitation variant: approached, spoken, declined,
    unreachable, response % (spoken of approached)."""
    check(engine, scope)
    approached, spoken, declined, closed = (
        Event.trigger.in_(counted(engine, scope, role))
        for role in ("approached", "spoken", "declined", "closed"))
    triggers = counted(engine, scope, "approached", "spoken", "declined", "closed")
    unreachable = counted(engine, scope, "unreachable_reasons")
    per_case = (
        select(
            Case.id.label("case_id"), Case.wijk.label("wijk"),
            func.max(case((approached, field("invitation_variant")),
                          else_=None)).label("variant"),
            func.max(case((approached, 1), else_=0)).label("approached"),
            func.max(case((spoken, 1), else_=0)).label("spoken"),
            func.max(case((declined, 1), else_=0)).label("declined"),
            func.max(case((and_(closed, Event.reason.in_(unreachable)), 1),
                          else_=0)).label("unreachable"),
        )
        .join(Case, Case.id == Event.case_id)
        .where(*event_conditions(engine, scope, triggers))
        .group_by(Case.id, Case.wijk)
        .subquery()
    )
    c = per_case.c

    def grouped(key: Any) -> Any:
        return (
            select(key.label("key"), func.sum(c.approached).label("approached"),
                   func.sum(c.spoken).label("spoken"), func.sum(c.declined).label("declined"),
                   func.sum(c.unreachable).label("unreachable"))
            .where(c.approached == 1).group_by(key).order_by(key)
        )

    def rows(query: Any, name: str) -> list[dict[str, Any]]:
        out = []
        for r in conn.execute(query):
            approached = int(r.approached or 0)
            spoken = int(r.spoken or 0)
            out.append({name: r.key, "approached": approached, "spoken": spoken,
                        "declined": int(r.declined or 0),
                        "unreachable": int(r.unreachable or 0),
                        "response_pct": round(100.0 * spoken / approached, 1)
                        if approached else None})
        return out

    with engine.db.connect() as conn:
        by_wijk = rows(grouped(c.wijk), "wijk")
        by_variant = rows(grouped(func.coalesce(c.variant, cast(literal("unknown"), String))),
                          "variant")
    return {"report": "response", **scope.as_dict(), "per_wijk": by_wijk,
            "per_variant": by_variant}


def care_partners(engine: Engine, scope: Scope) -> tuple[str, ...]:
    """Return the partners that count as care: the routes' [reports] care_partners and the
    setting reports.care_partners."""
    return tuple(dict.fromkeys((*counted(engine, scope, "care_partners"),
                                *engine.settings["reports.care_partners"])))


REFERRAL_KEYS = ("referred", "started", "no_interest", "unreachable", "referred_to_care",
                 "referred_on", "closed_otherwise", "in_progress")


def referrals(engine: Engine, scope: Scope) -> dict[str, Any]:
    """Per partner: referred, started an activity (per kind), no interest, unreachable,
    referred on to care, referred on to another partner, closed otherwise, still in progress.

    What became of a referral is the case's next step after it, up to the as-of date."""
    check(engine, scope)
    care = care_partners(engine, scope)
    no_interest, unreachable, to_care = (
        counted(engine, scope, role)
        for role in ("no_interest_reasons", "unreachable_reasons", "care_reasons"))
    refer, start, close, decline, outflow = (
        counted(engine, scope, role)
        for role in ("referred", "started", "closed", "declined", "outflow"))
    decisive = refer + start + close + decline + outflow
    order = {"partition_by": Event.case_id, "order_by": Event.seq}
    steps = (
        select(
            Case.participant_id.label("person"), Event.trigger.label("trigger"),
            field("partner").label("partner"),
            func.lead(Event.trigger).over(**order).label("next_trigger"),
            func.lead(Event.reason).over(**order).label("next_reason"),
            func.lead(field("partner")).over(**order).label("next_partner"),
            func.lead(field("activity")).over(**order).label("next_activity"),
        )
        .join(Case, Case.id == Event.case_id)
        .where(*event_conditions(engine, scope, decisive))
        .subquery()
    )
    s = steps.c
    started = s.next_trigger.in_(start + outflow)
    closed = s.next_trigger.in_(close)
    referred_again = s.next_trigger.in_(refer)
    outcome = {
        "referred": literal(True),
        "started": started,
        "no_interest": or_(s.next_trigger.in_(decline),
                           and_(closed, s.next_reason.in_(no_interest))),
        "unreachable": and_(closed, s.next_reason.in_(unreachable)),
        "referred_to_care": or_(and_(referred_again, s.next_partner.in_(care)),
                                and_(closed, s.next_reason.in_(to_care))),
        "referred_on": and_(referred_again, s.next_partner.not_in(care)),
        "closed_otherwise": and_(closed, s.next_reason.not_in(
            no_interest + unreachable + to_care)),
        "in_progress": s.next_trigger.is_(None),
    }
    per_partner = (
        select(s.partner.label("partner"),
               *[persons_if(cond, s.person).label(key) for key, cond in outcome.items()])
        .where(s.trigger.in_(refer)).group_by(s.partner).order_by(s.partner)
    )
    kind = case((s.next_trigger.in_(outflow), literal("outflow")), else_=s.next_activity)
    per_kind = (
        select(s.partner.label("partner"), kind.label("kind"),
               persons_if(literal(True), s.person).label("persons"))
        .where(s.trigger.in_(refer), started).group_by(s.partner, kind)
    )
    labels = partner_labels(engine, scope)
    with engine.db.connect() as conn:
        kinds: dict[str, dict[str, int]] = {}
        for r in conn.execute(per_kind):
            kinds.setdefault(r.partner, {})[r.kind or "other"] = int(r.persons)
        partners = []
        for r in conn.execute(per_partner):
            row = {"partner": r.partner, "label": labels.get(r.partner, r.partner)}
            row.update({key: int(getattr(r, key)) for key in REFERRAL_KEYS})
            row["started_per_kind"] = dict(sorted(kinds.get(r.partner, {}).items()))
            partners.append(row)
    total = {key: sum(p[key] for p in partners) for key in REFERRAL_KEYS}
    return {"report": "referrals", **scope.as_dict(), "per_partner": partners, "total": total}




def follow_up(engine: Engine, scope: Scope) -> dict[str, Any]:
    """People called after acting themselves, and what came of it: became active, went to the
    social team, taking steps, not active, no contact (closed unreachable after the rounds)."""
    check(engine, scope)
    care = care_partners(engine, scope)
    taking_steps, not_active, unreachable = (
        counted(engine, scope, role)
        for role in ("taking_steps_reasons", "not_active_reasons", "unreachable_reasons"))
    start, refer, closing = (counted(engine, scope, role)
                             for role in ("started", "referred", "closed"))
    close = Event.trigger.in_(closing)
    results = (
        select(
            persons_if(Event.trigger.in_(start), Case.participant_id)
            .label("became_active"),
            persons_if(and_(Event.trigger.in_(refer), field("partner").in_(care)),
                       Case.participant_id).label("to_social_team"),
            persons_if(and_(close, Event.reason.in_(taking_steps)), Case.participant_id)
            .label("taking_steps"),
            persons_if(and_(close, Event.reason.in_(not_active)), Case.participant_id)
            .label("not_active"),
            persons_if(and_(close, Event.reason.in_(unreachable)), Case.participant_id)
            .label("no_contact"),
        )
        .select_from(Event)
        .join(Case, Case.id == Event.case_id)
        .where(Event.from_state.in_(counted(engine, scope, "follow_up_state")),
               *event_conditions(engine, scope, start + refer + closing))
    )
    called = (
        select(persons_if(literal(True), Case.participant_id))
        .select_from(Task)
        .join(Case, Case.id == Task.case_id)
        .where(Task.kind.in_(counted(engine, scope, "follow_up_task")), Task.status == "done",
               Task.done_at < end_of(engine, scope.as_of), *case_conditions(scope))
    )
    with engine.db.connect() as conn:
        row = conn.execute(results).one()
        called_count = int(conn.execute(called).scalar_one())
    data = {"called": called_count}
    data.update({key: int(value) for key, value in row._mapping.items()})
    return {"report": "follow-up", **scope.as_dict(), **data}
