"""Outflow from benefit and what it saves, from the steps a route counts as outflow
([reports] outflow) as of a date.

Savings for year Y: fte x the yearly benefit per fte (``reports.annual_benefit_per_fte``) x the
share of year Y from the outflow date to its end; outflow in an earlier year counts for the
whole of Y. People whose outflow date lies after Y do not count.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, literal, select

from casework.engine import Engine
from casework.models import Case, Event
from casework.reports.scope import Scope, check, counted, event_conditions, field, persons_if


def year_share(outflow: date, year: int) -> float:
    """Return the share of the year from the outflow date (inclusive) to its end."""
    if outflow.year < year:
        return 1.0
    if outflow.year > year:
        return 0.0
    first, last = date(year, 1, 1), date(year, 12, 31)
    return ((last - outflow).days + 1) / ((last - first).days + 1)


def outflow(engine: Engine, scope: Scope, year: int | None = None) -> dict[str, Any]:
    """Persons and fte leaving benefit per month of the year, and the savings for the year."""
    check(engine, scope)
    year = year or scope.as_of.year
    per_fte = float(engine.settings["reports.annual_benefit_per_fte"])
    outflow_date = field("outflow_date")
    fte = Event.data["fte"].as_float()
    month = func.substr(outflow_date, 1, 7)
    base = [*event_conditions(engine, scope, counted(engine, scope, "outflow")),
            outflow_date <= f"{year}-12-31"]
    person = Case.participant_id
    in_year = outflow_date >= f"{year}-01-01"

    def joined(*columns: Any) -> Any:
        return select(*columns).select_from(Event).join(Case, Case.id == Event.case_id).where(*base)

    per_month = (joined(month.label("month"), persons_if(literal(True), person).label("persons"),
                        func.sum(fte).label("fte"))
                 .where(in_year).group_by(month).order_by(month))
    per_day = joined(outflow_date.label("day"), func.sum(fte).label("fte")).where(in_year) \
        .group_by(outflow_date)
    earlier = joined(persons_if(literal(True), person).label("persons"),
                     func.coalesce(func.sum(fte), 0.0).label("fte")).where(~in_year)
    year_persons = joined(persons_if(literal(True), person)).where(in_year)
    off = Event.data["still_off_benefit"].as_boolean()
    checks = (select(persons_if(literal(True), person).label("checked"),
                     persons_if(off.is_(True), person).label("still_off"),
                     persons_if(off.is_(False), person).label("back_on"))
              .select_from(Event).join(Case, Case.id == Event.case_id)
              .where(*event_conditions(engine, scope, counted(engine, scope, "sustainability"))))
    with engine.db.connect() as conn:
        months = {r.month: (int(r.persons), float(r.fte or 0)) for r in conn.execute(per_month)}
        month_savings: dict[str, float] = {}
        for r in conn.execute(per_day):
            saved = float(r.fte or 0) * per_fte * year_share(date.fromisoformat(r.day), year)
            month_savings[r.day[:7]] = month_savings.get(r.day[:7], 0.0) + saved
        before = conn.execute(earlier).one()
        persons = int(conn.execute(year_persons).scalar_one())
        checked = conn.execute(checks).one()
    by_month = []
    for number in range(1, 13):
        key = f"{year}-{number:02d}"
        people, ftes = months.get(key, (0, 0.0))
        by_month.append({"month": key, "persons": people, "fte": round(ftes, 2),
                         "savings": round(month_savings.get(key, 0.0), 2)})
    earlier_fte = float(before.fte or 0)
    earlier_savings = earlier_fte * per_fte
    return {
        "report": "outflow", **scope.as_dict(),
        "year": year,
        "persons": persons,
        "fte": round(float(sum(fte for _, fte in months.values())), 2),
        "savings": round(sum(month_savings.values()) + earlier_savings, 2),
        "annual_benefit_per_fte": per_fte,
        "by_month": by_month,
        "earlier_years": {"persons": int(before.persons), "fte": round(earlier_fte, 2),
                          "savings": round(earlier_savings, 2)},
        # Six months after the outflow (routes with a sustainability check), up to the as-of
        # date: still off benefit, or back on it.
        "sustainability": {"checked": int(checked.checked),
                           "still_off_benefit": int(checked.still_off),
                           "back_on_benefit": int(checked.back_on)},
    }
