"""Reports for the council and the team, counted from case events as of a date.

Every figure is aggregate SQL over the events recorded up to the end of the as-of day (a
referral or conversation recorded later does not count); nothing is a stored total. A person
reached in several cases of a route counts once per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, distinct, func, literal, select

from casework.engine import Engine
from casework.errors import InvalidData
from casework.models import Case, Event

REPORTS = ("outcomes", "response")


@dataclass(frozen=True)
class Scope:
    as_of: date
    workflow: str
    wijk: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "workflow": self.workflow, "wijk": self.wijk}


def _end_of(engine: Engine, day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=engine.tz)


def _field(name: str) -> Any:
    return Event.data[name].as_string()


def _events(engine: Engine, scope: Scope, triggers: tuple[str, ...]) -> list[Any]:
    conditions = [Event.at < _end_of(engine, scope.as_of), Case.workflow_id == scope.workflow,
                  Event.trigger.in_(triggers)]
    if scope.wijk:
        conditions.append(Case.wijk == scope.wijk)
    return conditions


def _check(engine: Engine, scope: Scope) -> None:
    engine.registry.get(scope.workflow)  # a clear error for an unknown route


def outcomes(engine: Engine, scope: Scope) -> dict[str, Any]:
    """The Kansen in Kaart results table: approached, spoken, classification, potential,
    referrals per partner, became active."""
    _check(engine, scope)
    triggers = ("invite", "hold_conversation", "start_activity")
    per_person = (
        select(
            Case.participant_id.label("person"),
            func.max(case((Event.trigger == "invite", 1), else_=0)).label("approached"),
            func.max(case((Event.trigger == "hold_conversation", 1), else_=0)).label("spoken"),
            func.max(case((Event.trigger == "hold_conversation", _field("classification")),
                          else_=None)).label("classification"),
            func.max(case((Event.trigger == "hold_conversation",
                           _field("participation_potential")), else_=None)).label("potential"),
            func.max(case((Event.trigger == "start_activity", 1), else_=0)).label("active"),
        )
        .join(Case, Case.id == Event.case_id)
        .where(*_events(engine, scope, triggers))
        .group_by(Case.participant_id)
        .subquery()
    )
    p = per_person.c
    with_potential = p.potential.in_(("self", "supported"))

    def count_if(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    totals = select(
        count_if(p.approached == 1).label("approached"),
        count_if(p.spoken == 1).label("spoken"),
        count_if(p.classification == "socially_active").label("socially_active"),
        count_if(and_(p.classification == "socially_active", with_potential))
        .label("socially_active_with_potential"),
        count_if(p.classification == "work_potential").label("work_potential"),
        count_if(p.classification == "not_active").label("not_active"),
        count_if(and_(p.classification == "not_active", with_potential))
        .label("not_active_with_potential"),
        count_if(and_(p.classification.in_(("socially_active", "not_active")), with_potential))
        .label("participation_potential_total"),
        count_if(p.potential == "self").label("potential_self"),
        count_if(p.potential == "supported").label("potential_supported"),
        count_if(p.active == 1).label("became_active"),
    )
    partner = _field("partner")
    referrals = (
        select(partner.label("partner"),
               func.count(distinct(Case.participant_id)).label("referred"))
        .join(Case, Case.id == Event.case_id)
        .where(*_events(engine, scope, ("refer",)))
        .group_by(partner).order_by(partner)
    )
    with engine.db.connect() as conn:
        row = conn.execute(totals).one()
        per_partner = {r.partner: int(r.referred) for r in conn.execute(referrals)}
    result = {key: int(value) for key, value in row._mapping.items()}
    result["referrals"] = {"per_partner": per_partner, "total": sum(per_partner.values())}
    return {"report": "outcomes", **scope.as_dict(), **result}


def response(engine: Engine, scope: Scope) -> dict[str, Any]:
    """Response per wijk and per invitation variant: approached, spoken, declined,
    unreachable, response % (spoken of approached)."""
    _check(engine, scope)
    triggers = ("invite", "hold_conversation", "decline", "close")
    per_case = (
        select(
            Case.id.label("case_id"), Case.wijk.label("wijk"),
            func.max(case((Event.trigger == "invite", _field("invitation_variant")),
                          else_=None)).label("variant"),
            func.max(case((Event.trigger == "invite", 1), else_=0)).label("approached"),
            func.max(case((Event.trigger == "hold_conversation", 1), else_=0)).label("spoken"),
            func.max(case((Event.trigger == "decline", 1), else_=0)).label("declined"),
            func.max(case((and_(Event.trigger == "close", Event.reason == "unreachable"), 1),
                          else_=0)).label("unreachable"),
        )
        .join(Case, Case.id == Event.case_id)
        .where(*_events(engine, scope, triggers))
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


def run_report(engine: Engine, name: str, scope: Scope) -> dict[str, Any]:
    """Return the named report for the scope."""
    if name == "outcomes":
        return outcomes(engine, scope)
    if name == "response":
        return response(engine, scope)
    raise InvalidData(f"no report {name!r}; reports: {', '.join(REPORTS)}")


OUTCOME_LABELS = (
    ("approached", "Benaderd"),
    ("spoken", "Gesproken"),
    ("socially_active", "Maatschappelijk actief"),
    ("socially_active_with_potential", "  waarvan met participatiepotentieel"),
    ("work_potential", "Arbeidspotentieel"),
    ("not_active", "Niet maatschappelijk actief"),
    ("not_active_with_potential", "  waarvan met participatiepotentieel"),
    ("participation_potential_total", "Totaal participatiepotentieel"),
    ("potential_self", "  zelf aan de slag"),
    ("potential_supported", "  met ondersteuning"),
    ("became_active", "Actief geworden"),
)


def table_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Return the report as rows for a table or CSV (the first row is the header)."""
    if report["report"] == "outcomes":
        rows: list[list[Any]] = [["measure", "label", "number"]]
        rows += [[key, label, report[key]] for key, label in OUTCOME_LABELS]
        for partner, count in report["referrals"]["per_partner"].items():
            rows.append([f"referrals.{partner}", f"Verwezen naar {partner}", count])
        rows.append(["referrals.total", "Verwijzingen totaal", report["referrals"]["total"]])
        return rows
    header = ["group", "key", "approached", "spoken", "declined", "unreachable",
              "response_pct"]
    rows = [header]
    for group, items in (("wijk", report["per_wijk"]), ("variant", report["per_variant"])):
        for item in items:
            rows.append([group, item[group], item["approached"], item["spoken"],
                         item["declined"], item["unreachable"], item["response_pct"]])
    return rows


def response_chart(report: dict[str, Any], path: Any) -> None:
    """Write a PNG: response per wijk and per invitation variant, labels in Dutch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), width_ratios=(3, 1))
    wijken = [r["wijk"] for r in report["per_wijk"]]
    x = range(len(wijken))
    left.bar([i - 0.2 for i in x], [r["approached"] for r in report["per_wijk"]], 0.4,
             label="benaderd", color="#9bbbd9")
    left.bar([i + 0.2 for i in x], [r["spoken"] for r in report["per_wijk"]], 0.4,
             label="gesproken", color="#1f5f99")
    left.set_xticks(list(x), wijken, rotation=30, ha="right")
    left.set_title("Benaderd en gesproken per wijk")
    left.legend()
    names = {"with_sentence": "met zin over\nvrijwilligheid",
             "without_sentence": "zonder zin over\nvrijwilligheid", "unknown": "onbekend"}
    variants = report["per_variant"]
    right.bar([names.get(r["variant"], r["variant"]) for r in variants],
              [r["response_pct"] or 0 for r in variants], color="#d98c1f")
    right.set_title("Respons per variant (%)")
    right.set_ylim(0, 100)
    fig.suptitle(f"Respons tot en met {report['as_of']} ({report['workflow']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
