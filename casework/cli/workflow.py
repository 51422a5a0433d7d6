"""casework workflow list|show|validate|diagram."""

from __future__ import annotations

from pathlib import Path

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
from casework.cli.params import VERSION
from casework.text import shown


@click.group()
def workflow() -> None:
    """Routes (workflow files): list, show, validate and draw them."""


def _rules(state: CliState):  # type: ignore[no-untyped-def]
    from casework.rules import Rules

    return Rules(disabled=tuple(state.settings()["rules.disabled"]))


def _registry(state: CliState):  # type: ignore[no-untyped-def]
    from casework.workflow import Registry

    return Registry.from_dir(state.settings().workflows_dir, _rules(state))


@workflow.command("list")
@json_option
@click.pass_obj
def list_command(state: CliState, as_json: bool) -> None:
    """List the loaded routes with their versions."""
    routes = list(_registry(state))
    if as_json:
        print_json([{"id": r.id, "version": r.version, "label": r.label, "file": r.path.name,
                     "states": len(r.states), "triggers": len(r.triggers)} for r in routes])
        return
    from rich.table import Column, Table

    table = Table(Column("id", no_wrap=True), "ver", Column("label", no_wrap=True),
                  "states", "triggers", "file")
    for r in routes:
        table.add_row(plain(r.id), str(r.version), plain(r.label), str(len(r.states)),
                      str(len(r.triggers)), plain(r.path.name))
    console().print(table)


@workflow.command("show")
@click.argument("workflow_id")
@click.option("--version", type=VERSION, help="Version to show (default: the newest).")
@json_option
@click.pass_obj
def show_command(state: CliState, workflow_id: str, version: int | None, as_json: bool) -> None:
    """Show a route: its states, triggers and the data each trigger takes."""
    route = _registry(state).get(workflow_id, version)
    if as_json:
        print_json(route.describe())
        return
    out = console()
    from rich.text import Text

    out.print(Text.assemble((safe(route.label), "bold"),
                            safe(f"  ({route.id} version {route.version}, "
                                 f"{route.path.name})")))
    out.print(f"initial state: {route.initial}")
    out.print(f"rules: {', '.join(route.rules) or 'none'}")
    from rich.table import Column, Table

    states = Table(Column("state", no_wrap=True), "label", "final", title="States")
    for s in route.states.values():
        states.add_row(plain(s.name), plain(s.label), "yes" if s.final else "")
    out.print(states)
    table = Table(Column("trigger", no_wrap=True), Column("from", no_wrap=True),
                  Column("to", no_wrap=True), "needs", "accepts", title="Triggers")
    for t in route.transitions:
        table.add_row(plain(t.trigger), plain(t.source), plain(t.dest),
                      plain("\n".join(t.needs), lines=True),
                      plain("\n".join(t.accepts), lines=True))
    out.print(table)
    fields = Table(Column("field", no_wrap=True), "takes", title="Data fields")
    for f in route.fields.values():
        fields.add_row(plain(f.name), plain(f.describe(), lines=True))
    out.print(fields)


@workflow.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def validate_command(state: CliState, file: Path | None) -> None:
    """Check a workflow file (or all in the workflows folder); list every problem."""
    from casework.errors import WorkflowError
    from casework.workflow import Registry, load_route

    try:
        settings = state.settings()
        # The same checks as when the engine loads the routes, letter templates included.
        if file is not None:
            if not file.is_file():
                raise WorkflowError([f"{file}: no such file"])
            routes = [load_route(file, _rules(state), templates_dir=settings.templates_dir)]
        else:
            routes = list(Registry.from_dir(settings.workflows_dir, _rules(state),
                                            settings.templates_dir))
    except WorkflowError as exc:
        for line in exc.problems:
            click.echo(line, err=True)
        n = len(exc.problems)
        click.echo(f"{n} problem{'s' if n != 1 else ''} found; fix them and validate again.",
                   err=True)
        raise SystemExit(1) from None
    for route in routes:
        click.echo(f"{route.path}: ok ({route.id} version {route.version}, "
                   f"{len(route.states)} states, {len(route.triggers)} triggers)")


@workflow.command("diagram")
@click.argument("workflow_id")
@click.option("--version", type=VERSION, help="Version to draw (default: the newest).")
@click.pass_obj
def diagram_command(state: CliState, workflow_id: str, version: int | None) -> None:
    """Print the route as a Mermaid state diagram (paste into Markdown or mermaid.live)."""
    click.echo(_registry(state).get(workflow_id, version).mermaid())


@workflow.command("migrate")
@click.argument("workflow_id")
@click.option("--from", "from_version", type=VERSION, required=True, help="Version cases are on.")
@click.option("--to", "to_version", type=VERSION, required=True, help="Version to move them to.")
@click.option("--map", "maps", multiple=True, metavar="OLD=NEW",
              help="Put cases in state OLD into state NEW (repeat for more states).")
@click.option("--dry-run", is_flag=True, help="Show what would move, change nothing.")
@actor_option
@json_option
@click.pass_obj
def migrate_command(state: CliState, workflow_id: str, from_version: int, to_version: int,
                    maps: tuple[str, ...], dry_run: bool, actor: str | None,
                    as_json: bool) -> None:
    """Move the open cases of a route to another version (an event per case)."""
    from casework.route_versions import migrate_cases

    mapping: dict[str, str] = {}
    for item in maps:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise click.BadParameter(f"{shown(item)} is not OLD=NEW, e.g. spoken=talked",
                                     param_hint="--map")
        mapping[old.strip()] = new.strip()
    actor = state.who(actor, "workflow.migrate")
    result = migrate_cases(state.engine(), actor, workflow_id, from_version,
                           to_version, mapping, dry_run)
    if as_json:
        print_json(result)
        return
    verb = "would move" if dry_run else "moved"
    for move in result["moves"]:
        click.echo(f"{move['cases']:>7} open cases {verb}: {move['from_state']} (v"
                   f"{result['from']}) -> {move['to_state']} (v{result['to']})")
    total = sum(m["cases"] for m in result["moves"])
    if dry_run:
        click.echo(f"Dry run: {total} open cases of {workflow_id} would move from version "
                   f"{result['from']} to {result['to']}; nothing changed.")
    else:
        click.echo(f"{result['moved']} open cases of {workflow_id} moved from version "
                   f"{result['from']} to {result['to']} (an event in each timeline).")
        if result["tasks_updated"]:
            click.echo(f"  {result['tasks_updated']} open task(s) follow version "
                       f"{result['to']}'s spec of their kind (scope, label, role, rounds)")
        for kind, count in sorted(result["tasks_kept"].items()):
            click.echo(f"  {count} open task(s) of kind {shown(kind)} kept as planned: "
                       f"version {result['to']} plans no such work; they stay on the work "
                       "lists until done or the case moves on")
