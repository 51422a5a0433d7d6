"""Work budgets per project (route) and year: money spent on a case, with its purpose,
refused when it would go over the budget."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, insert, select, update

from casework.access import log_access
from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import InvalidData, NotFound
from casework.models import Budget, Case, Spending
from casework.permissions import Actor
from casework.text import shown, unclean

# A spending on one case stays below a million euro; a year's budget of a route below a billion.
MAX_AMOUNT = Decimal(1_000_000)
MAX_BUDGET = Decimal(1_000_000_000)


def parse_amount(text: str, what: str = "amount", maximum: Decimal = MAX_AMOUNT) -> int:
    """Return euro cents of '1250', '1250,50', '1.250,50' or '1250.50'; InvalidData if not,
    or when it is not more than 0 and below ``maximum``."""
    from babel.numbers import NumberFormatError, parse_decimal

    cleaned = text.replace("\u20ac", "").replace("EUR", "").strip()
    try:
        value = parse_decimal(cleaned, locale="nl_NL", strict=True)
    except NumberFormatError:
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise InvalidData(f"{what} {shown(text)} is not an amount in euro, "
                              "e.g. 1250,50") from None
    if value.is_finite() and value >= maximum:
        raise InvalidData(f"{what} {shown(text)} is too large: it must be below "
                          f"{euro(int(maximum) * 100)}")
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise InvalidData(f"{what} {shown(text)} must be more than 0 with at most 2 decimals")
    return int(value * 100)


def euro(cents: int) -> str:
    """Return cents as '€ 1.250,50'."""
    from casework.display import euro as shown_euro

    return shown_euro(Decimal(cents) / 100)


def _spent(conn: Any, budget_id: int) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(Spending.amount_cents), 0))
                            .where(Spending.budget_id == budget_id)).scalar_one())


def set_budget(engine: Engine, actor: Actor, workflow_id: str, amount: str,
               year: int) -> dict[str, Any]:
    """Set (or change) the work budget of a route for a year; never below what is spent."""
    actor.require("budget.manage")
    actor.require_route("budget.manage", engine.registry.get(workflow_id).id)
    cents = parse_amount(amount, "budget", MAX_BUDGET)
    now = engine.now()
    with unit_of_work(engine) as conn:
        budget = conn.execute(select(Budget).where(Budget.workflow_id == workflow_id,
                                                   Budget.year == year)).first()
        if budget is None:
            conn.execute(insert(Budget).values(workflow_id=workflow_id, year=year,
                                               amount_cents=cents, set_by=actor.name,
                                               updated_at=now))
            spent = 0
        else:
            spent = _spent(conn, budget.id)
            if cents < spent:
                raise InvalidData(f"{euro(spent)} of the {year} budget of '{workflow_id}' is "
                                  f"already spent; the budget cannot be lower than that")
            conn.execute(update(Budget).where(Budget.id == budget.id)
                         .values(amount_cents=cents, set_by=actor.name, updated_at=now))
    return {"workflow": workflow_id, "year": year, "budget": cents / 100, "spent": spent / 100,
            "left": (cents - spent) / 100}


def spend(engine: Engine, actor: Actor, case_id: int, amount: str, purpose: str,
          spent_on: date | None = None, at: datetime | None = None) -> dict[str, Any]:
    """Record money spent on a case from its route's budget of that year; refused (nothing
    stored) when the budget does not cover it. The spending shows in the case's timeline,
    dated at (a past moment) or now; the day spent defaults to that moment's day, and a
    spent_on on another day than at is refused."""
    actor.require("case.write")
    cents = parse_amount(amount)
    purpose = purpose.strip()
    if not purpose:
        raise InvalidData("give the purpose of the spending (--purpose)")
    if len(purpose) > 200:
        raise InvalidData("--purpose is longer than 200 characters; keep it short")
    problem = unclean(purpose)
    if problem:
        raise InvalidData(f"--purpose contains {problem}; remove it")
    moment = engine.moment(at)
    day = spent_on or moment.astimezone(engine.tz).date()
    if at is not None and spent_on is not None and spent_on != moment.astimezone(engine.tz).date():
        raise InvalidData(f"--date {spent_on.isoformat()} is not the day of --at "
                          f"({moment.astimezone(engine.tz).date().isoformat()}); give one of "
                          "them, or both on the same day")
    with unit_of_work(engine) as conn:
        case = engine.load_case_for(conn, case_id, actor, "case.write")
        if at is not None:
            engine.moment(at, case)  # before the budget is touched
        budget = conn.execute(select(Budget).where(Budget.workflow_id == case.workflow_id,
                                                   Budget.year == day.year)).first()
        if budget is None:
            raise NotFound(f"no {day.year} budget for '{case.workflow_id}'; set one with "
                           f"'casework budget set {case.workflow_id} AMOUNT --year {day.year}'")
        # Lock the budget first (a row lock on PostgreSQL, the write lock on SQLite), so two
        # people spending at once cannot both go over it.
        conn.execute(update(Budget).where(Budget.id == budget.id)
                     .values(updated_at=Budget.updated_at))
        spent = _spent(conn, budget.id)
        left = budget.amount_cents - spent
        if cents > left:
            raise InvalidData(f"over budget: {euro(cents)} asked, {euro(left)} left of the "
                              f"{day.year} budget of '{case.workflow_id}' "
                              f"({euro(budget.amount_cents)})")
        conn.execute(insert(Spending).values(
            budget_id=budget.id, case_id=case_id, amount_cents=cents, purpose=purpose,
            spent_on=day, recorded_by=actor.name, recorded_at=engine.recorded_now()))
        engine.record_event(conn, case, actor, "spend",
                            {"amount": cents / 100, "purpose": purpose,
                             "spent_on": day.isoformat()}, at=at)
        log_access(conn, actor, "spend", [case_id], case.workflow_id, engine.now())
    return {"case": case_id, "workflow": case.workflow_id, "year": day.year,
            "amount": cents / 100, "purpose": purpose, "left": (left - cents) / 100}


def budget_report(engine: Engine, actor: Actor, workflow_id: str, year: int) -> dict[str, Any]:
    """The budget of a route for a year: spent, left, per purpose and the cases helped."""
    actor.require("budget.manage")
    actor.require_route("budget.manage", engine.registry.get(workflow_id).id)
    with engine.db.connect() as conn:
        budget = conn.execute(select(Budget).where(Budget.workflow_id == workflow_id,
                                                   Budget.year == year)).first()
        if budget is None:
            raise NotFound(f"no {year} budget for '{workflow_id}'; set one with "
                           f"'casework budget set {workflow_id} AMOUNT --year {year}'")
        rows = conn.execute(
            select(Spending.purpose, func.sum(Spending.amount_cents).label("cents"),
                   func.count(func.distinct(Spending.case_id)).label("cases"))
            .where(Spending.budget_id == budget.id)
            .group_by(Spending.purpose).order_by(Spending.purpose)).all()
        helped = conn.execute(select(func.count(func.distinct(Spending.case_id)))
                              .join(Case, Case.id == Spending.case_id)
                              .where(Spending.budget_id == budget.id)).scalar_one()
    spent = sum(int(r.cents) for r in rows)
    return {
        "workflow": workflow_id, "year": year, "budget": budget.amount_cents / 100,
        "spent": spent / 100, "left": (budget.amount_cents - spent) / 100,
        "cases": int(helped),
        "per_purpose": [{"purpose": r.purpose, "amount": int(r.cents) / 100,
                         "cases": int(r.cases)} for r in rows],
    }
