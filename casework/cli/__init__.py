"""The ``casework`` command: thin click commands that parse, call the core and print.

Only click is imported at start-up so ``casework --help`` answers fast; each command imports
the core it needs.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from casework.cli.common import CliState, fail


class CaseworkGroup(click.Group):
    """Turns the errors users can cause into one clear line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from casework.errors import CaseworkError

        try:
            return super().invoke(ctx)
        except CaseworkError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted; what was committed before stays, a rerun continues", 130)
        except Exception as exc:  # database trouble the user can act on
            from sqlalchemy.exc import OperationalError

            if isinstance(exc, OperationalError):
                text = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
                if "locked" in text:
                    fail("the database is busy (locked by another process); try again", 3)
                fail(f"database error: {text}", 4)
            raise


@click.group(cls=CaseworkGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Config file (default: $CASEWORK_CONFIG or ./config.toml).")
@click.option("--as", "actor", metavar="NAME",
              help="Staff member you act as (default: $CASEWORK_USER).")
@click.option("--clock", metavar="DATETIME", envvar="CASEWORK_CLOCK",
              help="Training databases only: 'now' for this command, e.g. '2026-03-02 09:00' "
                   "(default: $CASEWORK_CLOCK).")
@click.version_option(package_name="casework")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, actor: str | None,
        clock: str | None) -> None:
    """Casework: case management for participation projects (Participatiewet).

    Start with 'casework init', import a cohort with 'casework cohort import', then see and
    advance cases with 'casework case ...'.
    """
    # Whatever casework writes (database, letters, logs, exports) is for its owner only.
    os.umask(0o077)
    ctx.obj = CliState(config_path=config_path, actor=actor,
                       clock=clock if clock and clock.strip() else None)


def _register() -> None:
    from casework.cli import (
        audit,
        budget,
        case,
        cohort,
        consent,
        daily,
        db,
        employer,
        letters,
        meeting,
        person,
        privacy,
        report,
        simulate,
        staff,
        task,
        web,
        workflow,
    )

    cli.add_command(db.init_command)
    cli.add_command(db.db)
    cli.add_command(workflow.workflow)
    cli.add_command(cohort.cohort)
    cli.add_command(case.case)
    cli.add_command(person.person)
    cli.add_command(staff.staff)
    cli.add_command(task.task)
    cli.add_command(daily.daily)
    cli.add_command(daily.scheduler)
    cli.add_command(consent.consent)
    cli.add_command(consent.referral)
    cli.add_command(letters.letters)
    cli.add_command(report.report)
    cli.add_command(budget.budget)
    cli.add_command(audit.audit)
    cli.add_command(privacy.privacy)
    cli.add_command(employer.employer)
    cli.add_command(meeting.event)
    cli.add_command(simulate.simulate)
    cli.add_command(web.serve_command)


_register()


def main() -> None:
    """Entry point of the console script."""
    cli.main(prog_name="casework")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
