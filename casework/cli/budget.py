"""casework budget: work budgets per route and year, and what is spent on cases."""

from __future__ import annotations

import click

from casework.cli.common import (
    CliState,
    actor_option,
    console,
    json_option,
    plain,
    print_json,
    safe,
)
from casework.cli.params import ID, at_option, parse_at, parse_day


@click.group()
def budget() -> None:
    """Work budgets per project: set, spend on a case, show."""


@budget.command("set")
@click.argument("workflow_id", metavar="WORKFLOW")
@click.argument("amount")
@click.option("--year", type=click.IntRange(2000, 2200), help="Default: this year.")
@actor_option
@json_option
@click.pass_obj
def set_command(state: CliState, workflow_id: str, amount: str, year: int | None,
                actor: str | None, as_json: bool) -> None:
    """Set the work budget of a route for a year (AMOUNT in euro, e.g. 25000 or 25.000,00)."""
    from casework.budgets import euro, set_budget

    engine = state.engine()
    year = year or engine.now().astimezone(engine.tz).year
    result = set_budget(engine, state.who(actor, "budget.manage"), workflow_id, amount, year)
    if as_json:
        print_json(result)
        return
    click.echo(safe(f"Budget {workflow_id} {year}: {euro(round(result['budget'] * 100))} "
                    f"({euro(round(result['left'] * 100))} left)."))


@budget.command("spend")
@click.argument("case_id", type=ID)
@click.argument("amount")
@click.option("--purpose", required=True, help="What the money is for.")
@click.option("--date", "day_text", metavar="DATE",
              help="The day it was spent (default: the day of --at, else today).")
@at_option("When it was spent (--date, if also given, must be the same day)")
@actor_option
@json_option
@click.pass_obj
def spend_command(state: CliState, case_id: int, amount: str, purpose: str,
                  day_text: str | None, at_text: str | None, actor: str | None,
                  as_json: bool) -> None:
    """Record money spent on a case from its route's budget (refused over the budget)."""
    from casework.budgets import euro, spend

    engine = state.engine()
    result = spend(engine, state.who(actor, "case.write"), case_id, amount, purpose,
                   parse_day(day_text, "--date"), parse_at(at_text, engine.tz))
    if as_json:
        print_json(result)
        return
    click.echo(safe(f"Case {case_id}: {euro(round(result['amount'] * 100))} for {purpose}; "
                    f"{euro(round(result['left'] * 100))} left in {result['year']}."))


@budget.command("show")
@click.argument("workflow_id", metavar="WORKFLOW")
@click.option("--year", type=click.IntRange(2000, 2200), help="Default: this year.")
@json_option
@click.pass_obj
def show_command(state: CliState, workflow_id: str, year: int | None, as_json: bool) -> None:
    """The budget of a route: spent, left, per purpose, cases helped."""
    from rich.table import Table

    from casework.budgets import budget_report, euro

    engine = state.engine()
    who = state.who(None, "budget.manage")
    year = year or engine.now().astimezone(engine.tz).year
    report = budget_report(engine, who, workflow_id, year)
    if as_json:
        print_json(report)
        return
    table = Table("purpose", "amount", "cases",
                  title=plain(f"Budget {workflow_id} {year}: "
                              f"{euro(round(report['budget'] * 100))}"))
    for row in report["per_purpose"]:
        table.add_row(plain(row["purpose"]), euro(round(row["amount"] * 100)), str(row["cases"]))
    table.add_row("spent", euro(round(report["spent"] * 100)), str(report["cases"]))
    table.add_row("left", euro(round(report["left"] * 100)), "")
    console().print(table)
