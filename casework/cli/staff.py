"""casework staff add|edit|list|disable."""

from __future__ import annotations

import sys

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
from casework.cli.params import one_of

ROLE_CHOICE = click.Choice(["back_office", "case_worker", "coordinator", "admin"])


@click.group()
def staff() -> None:
    """Staff members: who may act, in which roles (admins manage them)."""


def known_wijken_and_projects(state: CliState, wijken: tuple[str, ...],
                              projects: tuple[str, ...]) -> None:
    """Stop (exit 2) at a wijk no case is in or a project that is no route, naming the
    known ones. Before any cohort is imported no wijk is known yet, and every wijk passes."""
    from casework import vocabulary

    engine = state.engine()
    known = vocabulary.wijken(engine)
    for wijk in wijken if known else ():
        one_of(wijk, known, "--wijk", "wijk")
    for project in projects:
        one_of(project, vocabulary.routes(engine), "--project", "route")


@staff.command("add")
@click.argument("name")
@click.option("--role", "roles", required=True, multiple=True, type=ROLE_CHOICE,
              help="What the person does (repeat for more roles).")
@click.option("--wijk", "wijken", multiple=True,
              help="Case worker: a wijk whose cases they work on (repeat for more).")
@click.option("--project", "projects", multiple=True,
              help="Coordinator or back office: a route they work for (repeat; none: every "
                   "route).")
@click.option("--full-name", help="Name shown to colleagues and on letters.")
@actor_option
@click.pass_obj
def add_command(state: CliState, name: str, roles: tuple[str, ...], wijken: tuple[str, ...],
                projects: tuple[str, ...], full_name: str | None, actor: str | None) -> None:
    """Add a staff member (NAME is their login name). The first one must be an admin."""
    from casework.staff import add_staff, has_staff

    engine = state.engine()
    who = state.who(actor, "staff.manage") if has_staff(engine) else None
    known_wijken_and_projects(state, wijken, projects)
    add_staff(engine, who, name, roles, full_name, wijken, projects)
    click.echo(safe(f"Added {name} ({', '.join(roles)})."))


@staff.command("edit")
@click.argument("name")
@click.option("--role", "roles", multiple=True, type=ROLE_CHOICE,
              help="Replace the roles with these (repeat for more).")
@click.option("--wijk", "wijken", multiple=True,
              help="Replace the wijken with these (repeat; '-' for none).")
@click.option("--project", "projects", multiple=True,
              help="Replace the projects with these (repeat; '-' for none: every route).")
@click.option("--full-name", help="Name shown to colleagues and on letters.")
@actor_option
@json_option
@click.pass_obj
def edit_command(state: CliState, name: str, roles: tuple[str, ...], wijken: tuple[str, ...],
                 projects: tuple[str, ...], full_name: str | None, actor: str | None,
                 as_json: bool) -> None:
    """Change a staff member's roles, wijken or projects (each one given replaces the old)."""
    from casework.staff import edit_staff

    engine = state.engine()
    who = state.who(actor, "staff.manage")
    new_wijken = _replacement(wijken, "--wijk")
    new_projects = _replacement(projects, "--project")
    known_wijken_and_projects(state, tuple(new_wijken or ()), tuple(new_projects or ()))
    member = edit_staff(engine, who, name, roles or None, new_wijken, new_projects, full_name)
    if as_json:
        print_json(member)
        return
    click.echo(safe(f"Changed {name}: roles {', '.join(member['roles'])}; wijken "
                    f"{', '.join(member['wijken']) or '-'}; projects "
                    f"{', '.join(member['projects']) or 'every route'}."))


def _replacement(values: tuple[str, ...], option: str) -> list[str] | None:
    """Return the new list an option gives: None when not given, [] for '-'."""
    if not values:
        return None
    if "-" in values:
        if len(values) > 1:
            raise click.BadParameter("'-' (none) goes alone", param_hint=option)
        return []
    return list(values)


@staff.command("disable")
@click.argument("name")
@actor_option
@click.pass_obj
def disable_command(state: CliState, name: str, actor: str | None) -> None:
    """Disable a staff member: they can no longer act or be assigned cases."""
    from casework.staff import disable_staff

    disable_staff(state.engine(), state.who(actor, "staff.manage"), name)
    click.echo(safe(f"Disabled {name}."))


@staff.command("list")
@actor_option
@json_option
@click.pass_obj
def list_command(state: CliState, actor: str | None, as_json: bool) -> None:
    """List staff members with their roles, wijken and projects."""
    from casework.staff import list_staff

    members = list_staff(state.engine(), state.who(actor, "staff.list"))
    if as_json:
        print_json(members)
        return
    from rich.table import Table

    table = Table("name", "full name", "roles", "wijken", "projects", "active")
    for m in members:
        table.add_row(plain(m["name"]), plain(m["full_name"]), ", ".join(m["roles"]),
                      plain(", ".join(m["wijken"])), plain(", ".join(m["projects"])),
                      "yes" if m["active"] else "no")
    console().print(table)


@staff.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (one line), for scripts.")
@actor_option
@click.pass_obj
def set_password_command(state: CliState, name: str, password_stdin: bool,
                         actor: str | None) -> None:
    """Set a staff member's password for the web front ('casework serve'): admins for
    anyone, every staff member for themselves. Asked twice with a hidden prompt."""
    from casework.logins import set_password

    who = state.who(actor)
    if who.name != name:
        who.require("staff.manage")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    set_password(state.engine(), who, name, password)
    click.echo(safe(f"Password of {name} set; they log in on the web front "
                    "('casework serve')."))
