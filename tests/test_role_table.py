"""Each role does exactly its job: the matrix in casework/permissions.py (ROLE_TABLE, and
COMMANDS for the capability each command needs) is what the README's role table promises.
A member with one role runs every command of their row through the CLI, and every other
command is refused with a message naming the role it needs, the same whether or not the
person it asks about exists, and without changing anything."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from conftest import ROOT, WORKFLOWS, Env
from sqlalchemy import func, select
from stdnum.nl import bsn as stdnum_bsn

from casework.models import AccessLog, Case, Event
from casework.permissions import (
    CAPABILITIES,
    COMMANDS,
    PERMISSIONS,
    ROLE_SCOPE,
    ROLE_TABLE,
    ROLES,
    allowed_commands,
)

WORKFLOW = "kansen-in-kaart"
WIJK = "Beijum"
APPOINTMENT = "2099-01-06 10:00"
MEMBERS = {"case_worker": "piet", "coordinator": "kees", "back_office": "bo", "admin": "pia"}
KNOWN_BSN = "764132520"  # El Amrani, case 1 of the sample cohort (Oosterparkwijk)
UNKNOWN_BSN = "111222333"  # passes the 11-proof, in no file
PERSON = ("--surname", "Jansen", "--initials", "P.", "--street", "Hoofdweg",
          "--house-number", "12", "--postcode", "9711 AB", "--city", "Groningen",
          "--wijk", WIJK)
# Runs until stopped: its refusal is tested here, its run in tests/test_scheduler.py.
NOT_RUN_HERE = {"scheduler run"}
# The commands that need no staff member (everything else is in COMMANDS).
NO_ROLE = {"init", "db upgrade", "db current", "workflow list", "workflow show",
           "workflow validate", "workflow diagram", "simulate season", "serve"}


@dataclass
class Team:
    """The sample cohort with one member per role: Piet works cases in Beijum, Kees
    coordinates Kansen in Kaart, Bo is its back office, Pia an admin. Anna (every role)
    prepares what a command needs."""

    env: Env
    cases: list[int]  # open cases in Beijum nobody is excluded from
    excluded: int  # a case in Beijum kept out of waves (social-team contact)
    found: dict[str, str] = field(default_factory=dict)

    def case(self, n: int) -> str:
        return str(self.cases[n])

    def anna(self, *args: str) -> None:
        self.env.ok(*args)

    def invite(self, n: int) -> None:
        self.anna("case", "advance", self.case(n), "invite", "--set",
                  f"appointment={APPOINTMENT}")

    def letter_of(self, n: int, status: str) -> dict[str, object]:
        letters = self.env.json("letters", "list", "--case", self.case(n))["letters"]
        return next(letter for letter in letters if letter["status"] == status)


@pytest.fixture
def team(cohort: Env) -> Team:
    cohort.ok("staff", "add", "piet", "--role", "case_worker", "--wijk", WIJK)
    cohort.ok("staff", "add", "kees", "--role", "coordinator", "--project", WORKFLOW)
    cohort.ok("staff", "add", "bo", "--role", "back_office", "--project", WORKFLOW)
    cohort.ok("staff", "add", "pia", "--role", "admin")
    excluded = {c["case_id"] for c in cohort.json("cohort", "excluded", "--workflow", WORKFLOW,
                                                  "--wijk", WIJK)["cases"]}
    beijum = [c["id"] for c in cohort.json("case", "list", "--wijk", WIJK, "--limit", "0")[
        "cases"]]
    team = Team(cohort, [c for c in beijum if c not in excluded], min(excluded))
    cohort_file(team)
    (cohort.root / "steps.csv").write_text(f"case,trigger\n{team.case(2)},decline\n",
                                           encoding="utf-8")
    return team


# --- what each command needs to run -----------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A command line for a command of the table; prepare (as anna) what it acts on first
    when it is to succeed."""

    args: Callable[[Team], list[str]]
    prepare: Callable[[Team], None] | None = None
    input: str | None = None  # what the command reads from standard input


def spoken(team: Team) -> None:
    team.invite(4)
    team.anna("case", "advance", team.case(4), "hold_conversation",
              "--set", "classification=socially_active", "--set", "participation_potential=self",
              "--set", "consent=record_report", "--set", "themes.health=Gaat goed")


def reminder(team: Team) -> None:
    team.invite(6)
    tasks = team.env.json("task", "list")["tasks"]
    team.found["task"] = str(next(t["id"] for t in tasks if t["case_id"] == team.cases[6]))


def budget(team: Team) -> None:
    team.anna("budget", "set", WORKFLOW, "1000")


def meeting(team: Team) -> None:
    team.anna("event", "add", "--date", "2026-01-10", "--place", "Wijkcentrum")
    team.found["meeting"] = str(team.env.json("event", "list")[0]["id"])


def employer(team: Team) -> None:
    team.anna("employer", "add", "Bakkerij De Korrel")


def queued_letter(team: Team) -> None:
    team.invite(7)
    team.found["queued"] = str(team.letter_of(7, "queued")["id"])


def batch(team: Team) -> None:
    team.invite(8)
    team.anna("letters", "render")
    team.found["batch"] = str(team.letter_of(8, "in_batch")["batch"])


def other_batch(team: Team) -> None:
    team.invite(16)
    team.anna("letters", "render")
    team.found["other_batch"] = str(team.letter_of(16, "in_batch")["batch"])


def sent_letter(team: Team) -> None:
    team.invite(9)
    team.anna("letters", "render")
    team.anna("letters", "batch", "mark-sent", str(team.letter_of(9, "in_batch")["batch"]))
    team.found["sent"] = str(team.letter_of(9, "sent")["id"])


def wave(team: Team) -> None:
    team.anna("cohort", "plan", "--workflow", WORKFLOW, "--wijk", WIJK, "--size", "2",
              "--from", "2099-01-05", "--specialists", "1")


def cohort_file(team: Team) -> None:
    """Two new people in Beijum."""
    bsns = [f"{n:09d}" for n in range(720_000_000, 720_000_200)
            if stdnum_bsn.is_valid(f"{n:09d}")][:2]
    path = team.env.root / "nieuw.csv"
    path.write_text("bsn,surname,street,house_number,postcode,city,wijk\n" + "".join(
        f"{bsn},Nieuw,Dorpsstraat,{n},9712 AB,Groningen,{WIJK}\n"
        for n, bsn in enumerate(bsns, 1)), encoding="utf-8")


def shipped_version() -> int:
    text = (WORKFLOWS / "kansen_in_kaart.toml").read_text(encoding="utf-8")
    found = re.search(r"^version = (\d+)", text, flags=re.M)
    assert found
    return int(found.group(1))


def next_route_version(team: Team) -> None:
    """Kansen in Kaart gets a next version (a copy of the shipped one): the open cases may
    move to it."""
    folder = team.env.root / "routes"
    folder.mkdir()
    for source in WORKFLOWS.glob("*.toml"):
        text = source.read_text(encoding="utf-8")
        if source.name == "kansen_in_kaart.toml":
            text = re.sub(r"^version = \d+.*$", f"version = {shipped_version() + 1}", text,
                          count=1, flags=re.M)
        (folder / source.name).write_text(text, encoding="utf-8")
    config = team.env.config.read_text(encoding="utf-8")
    team.env.config.write_text(config.replace(WORKFLOWS.as_posix(), folder.as_posix()),
                               encoding="utf-8")


def out(team: Team, name: str) -> str:
    return str(team.env.root / name)


RUNS: dict[str, Run] = {
    "case list": Run(lambda t: ["case", "list", "--limit", "5"]),
    "case show": Run(lambda t: ["case", "show", t.case(0)]),
    "case triggers": Run(lambda t: ["case", "triggers", t.case(0)]),
    "case advance": Run(lambda t: ["case", "advance", t.case(1), "invite", "--set",
                                   f"appointment={APPOINTMENT}"]),
    "case advance --override-exclusion": Run(lambda t: [
        "case", "advance", str(t.excluded), "invite", "--set", f"appointment={APPOINTMENT}",
        "--override-exclusion", "--note", "de persoon vroeg er zelf om"]),
    "case open": Run(lambda t: ["case", "open", "--workflow", WORKFLOW, "--bsn", UNKNOWN_BSN,
                                *PERSON]),
    "case apply": Run(lambda t: ["case", "apply", out(t, "steps.csv")]),
    "case flag": Run(lambda t: ["case", "flag", t.case(3), "moved"]),
    "case correct": Run(lambda t: ["case", "correct", t.case(4), "--set",
                                   "themes.health=Gaat beter"], spoken),
    "case assign": Run(lambda t: ["case", "assign", t.case(5), "piet"]),
    "case assign --wave": Run(lambda t: ["case", "assign", "--wave", "1", "--wijk", WIJK,
                                         "piet"], wave),
    "person find": Run(lambda t: ["person", "find", KNOWN_BSN]),
    "person edit": Run(lambda t: ["person", "edit", t.case(17), "--phone", "0612345678"]),
    "task list": Run(lambda t: ["task", "list"]),
    "task done": Run(lambda t: ["task", "done", t.found.get("task", "1"), "--outcome",
                                "reached"], reminder),
    "consent grant": Run(lambda t: ["consent", "grant", t.case(10), "share:wij_team",
                                    "--how", "letter"]),
    "consent withdraw": Run(lambda t: ["consent", "withdraw", t.case(11), "share:wij_team",
                                       "--how", "letter"]),
    "consent list": Run(lambda t: ["consent", "list", t.case(10)]),
    "budget spend": Run(lambda t: ["budget", "spend", t.case(12), "25", "--purpose",
                                   "reiskosten"], budget),
    "event attend": Run(lambda t: ["event", "attend", t.found.get("meeting", "1"), "--case",
                                   t.case(13)], meeting),
    "employer add": Run(lambda t: ["employer", "add", "Groenvoorziening Noord"]),
    "employer list": Run(lambda t: ["employer", "list"]),
    "employer show": Run(lambda t: ["employer", "show", "Bakkerij De Korrel"], employer),
    "event add": Run(lambda t: ["event", "add", "--date", "2099-02-14", "--place", "Bibliotheek"]),
    "event list": Run(lambda t: ["event", "list"]),
    "cohort import": Run(lambda t: ["cohort", "import", out(t, "nieuw.csv"), "--workflow",
                                    WORKFLOW]),
    "cohort plan": Run(lambda t: ["cohort", "plan", "--workflow", WORKFLOW, "--wijk", WIJK,
                                  "--size", "2", "--from", "2099-01-05", "--specialists", "1"]),
    "cohort excluded": Run(lambda t: ["cohort", "excluded", "--workflow", WORKFLOW]),
    "daily": Run(lambda t: ["daily"]),
    "daily --status": Run(lambda t: ["daily", "--status"]),
    "scheduler run": Run(lambda t: ["scheduler", "run"]),
    "letters render": Run(lambda t: ["letters", "render"], lambda t: t.invite(14)),
    "letters list": Run(lambda t: ["letters", "list"]),
    "letters cancel": Run(lambda t: ["letters", "cancel", t.found.get("queued", "1")],
                          queued_letter),
    "letters preview": Run(lambda t: ["letters", "preview", "uitnodiging", "--case", t.case(15),
                                      "--out", out(t, "preview.pdf")],
                           lambda t: t.invite(15)),
    "letters batch list": Run(lambda t: ["letters", "batch", "list"]),
    "letters batch remake": Run(lambda t: ["letters", "batch", "remake",
                                           t.found.get("other_batch", "x")], other_batch),
    "letters batch mark-sent": Run(lambda t: ["letters", "batch", "mark-sent",
                                              t.found.get("batch", "x")], batch),
    "letters returned": Run(lambda t: ["letters", "returned", t.found.get("sent", "1")],
                            sent_letter),
    "letters check": Run(lambda t: ["letters", "check"]),
    "letters calibrate": Run(lambda t: ["letters", "calibrate", "--out", out(t, "cal.pdf")]),
    "report": Run(lambda t: ["report", "outcomes"]),
    "referral export": Run(lambda t: ["referral", "export", "--partner", "wij_team"]),
    "budget set": Run(lambda t: ["budget", "set", WORKFLOW, "5000"]),
    "budget show": Run(lambda t: ["budget", "show", WORKFLOW]),
    "staff list": Run(lambda t: ["staff", "list"]),
    "staff add": Run(lambda t: ["staff", "add", "nina", "--role", "case_worker"]),
    "staff edit": Run(lambda t: ["staff", "edit", "piet", "--wijk", WIJK, "--wijk",
                                 "Vinkhuizen"]),
    "staff set-password": Run(lambda t: ["staff", "set-password", "anna", "--password-stdin"],
                              input="a long enough password\n"),
    "staff disable": Run(lambda t: ["staff", "disable", "wim"],
                         lambda t: t.anna("staff", "add", "wim", "--role", "case_worker")),
    "audit": Run(lambda t: ["audit", "--bsn", KNOWN_BSN]),
    "audit verify": Run(lambda t: ["audit", "verify"]),
    "audit seal": Run(lambda t: ["audit", "seal"]),
    "audit rekey": Run(lambda t: ["audit", "rekey"]),
    "privacy export": Run(lambda t: ["privacy", "export", "--bsn", KNOWN_BSN, "--out",
                                     out(t, "export.json")]),
    "privacy purge": Run(lambda t: ["privacy", "purge", "--dry-run"]),
    "workflow migrate": Run(lambda t: ["workflow", "migrate", WORKFLOW, "--from",
                                       str(shipped_version()), "--to",
                                       str(shipped_version() + 1)], next_route_version),
}
# Commands that ask about a person by BSN: a refusal must read the same for anyone.
ABOUT_A_PERSON = {"case open", "person find", "audit", "privacy export"}


def cli_commands() -> list[str]:
    """Return every command of the CLI, as typed ('letters batch list')."""
    import click

    from casework.cli import cli

    def walk(command: click.Command, prefix: str) -> list[str]:
        if not isinstance(command, click.Group):
            return [prefix]
        found = [prefix] if command.invoke_without_command and prefix else []
        for name, sub in command.commands.items():
            found += walk(sub, f"{prefix} {name}".strip())
        return found

    return walk(cli, "")


def test_every_command_of_the_cli_is_in_the_table_and_exercised_here() -> None:
    commands = set(cli_commands())
    assert {c.split(" --")[0] for c in COMMANDS} | NO_ROLE == commands
    assert set(RUNS) == set(COMMANDS)
    assert set(ROLE_TABLE) == set(ROLES) == set(MEMBERS) == set(ROLE_SCOPE)
    assert set(PERMISSIONS) == set(CAPABILITIES) == {c for caps in ROLE_TABLE.values()
                                                     for c in caps}
    assert set(COMMANDS.values()) <= set(CAPABILITIES)


def test_the_readme_role_table_lists_what_each_role_may_do() -> None:
    """The README's table names, per role, the commands of its row (from COMMANDS)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for role in ROLES:
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{role}` |"))
        cell = row.split("|")[3]
        listed = set(re.findall(r"`([a-z][a-z -]*(?: --[a-z-]+)?)`", cell))
        if "the case worker's commands" in cell:
            listed |= set(allowed_commands("case_worker"))
        assert listed == set(allowed_commands(role)), role


@pytest.mark.parametrize("role", ROLES)
def test_a_member_with_one_role_does_the_whole_job_of_that_row(team: Team, role: str) -> None:
    member = MEMBERS[role]
    for command in allowed_commands(role):
        if command in NOT_RUN_HERE:
            continue
        run = RUNS[command]
        if run.prepare:
            run.prepare(team)
        result = team.env.run(*run.args(team), user=member, input=run.input)
        assert result.exit_code == 0, (command, result.output)


def counts(env: Env) -> tuple[int, int, int]:
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            return tuple(conn.execute(select(func.count()).select_from(table)).scalar_one()
                         for table in (Event, AccessLog, Case))  # type: ignore[return-value]
    finally:
        engine.db.dispose()


def named_roles(message: str) -> set[str]:
    found = re.search(r"needs the role ([a-z_, ]+?)(?: \(|$)", message)
    assert found, message
    return set(re.split(r", | or ", found.group(1)))


@pytest.mark.parametrize("role", ROLES)
def test_every_other_rows_work_is_refused_naming_the_role_it_needs(team: Team,
                                                                    role: str) -> None:
    member = MEMBERS[role]
    before = counts(team.env)
    for command, capability in COMMANDS.items():
        if capability in ROLE_TABLE[role]:
            continue
        args = RUNS[command].args(team)
        result = team.env.run(*args, user=member, input=RUNS[command].input)
        assert result.exit_code == 1, (command, result.output)
        assert "Traceback" not in result.output
        message = result.stderr
        assert message.startswith(f"Error: {member} ({role}) may not "), (command, message)
        needed = named_roles(message)
        assert needed & set(PERMISSIONS[capability]) and role not in needed, (command, message)
        if command in ABOUT_A_PERSON:
            other = [UNKNOWN_BSN if a == KNOWN_BSN else KNOWN_BSN if a == UNKNOWN_BSN else a
                     for a in args]
            assert team.env.run(*other, user=member).stderr == message, command
    assert counts(team.env) == before


def test_back_office_lists_only_the_cases_of_its_projects_and_reads_no_case_file(
        team: Team) -> None:
    env = team.env
    env.ok("staff", "add", "bea", "--role", "back_office", "--project", "participatiecoach")
    opened = env.json("case", "open", "--workflow", "participatiecoach", "--bsn", UNKNOWN_BSN,
                      "--source", "self_report", *PERSON)
    listed = env.json("case", "list", "--limit", "0", user="bo")
    assert listed["total"] == 200 and {c["workflow"] for c in listed["cases"]} == {WORKFLOW}
    assert [c["id"] for c in env.json("case", "list", user="bea")["cases"]] == [opened["id"]]
    logged = [e for e in env.json("audit", "--staff", "bo") if e["action"] == "list"]
    assert len(logged) == 1 and len(logged[0]["case_ids"]) == 200
    refused = env.run("case", "show", team.case(0), user="bo")
    assert refused.exit_code == 1
    assert ("bo (back_office) may not read a case file: that needs the role case_worker or "
            "coordinator (back_office may: list cases; import a cohort; plan waves;"
            in refused.stderr)
    other = env.run("cohort", "plan", "--workflow", WORKFLOW, "--wijk", WIJK, "--size", "2",
                    "--from", "2099-01-05", "--specialists", "1", user="bea")
    assert other.exit_code == 1
    assert ("bea may only plan waves of their projects (participatiecoach); kansen-in-kaart "
            "is not one of them") in other.stderr
    assert env.run("cohort", "excluded", "--workflow", WORKFLOW, "--json",
                   user="bea").stdout.count("case_id") == 0
    preview = env.run("letters", "preview", "uitnodiging", "--case", team.case(0), "--out",
                      str(env.root / "p.pdf"), user="bea")
    assert preview.exit_code == 1
    assert (f"bea may only handle letters for cases of their projects (participatiecoach); "
            f"case {team.case(0)} is not") in preview.stderr


def test_a_partner_export_holds_only_the_referrals_of_ones_projects(team: Team) -> None:
    env = team.env
    env.ok("staff", "add", "cor", "--role", "coordinator", "--project", "participatiecoach")
    team.invite(0)
    env.ok("case", "advance", team.case(0), "hold_conversation", "--set",
           "classification=not_active", "--set", "participation_potential=supported",
           "--set", "consent=share:wij_team")
    env.ok("case", "advance", team.case(0), "refer", "--set", "partner=wij_team")
    for member, count in (("kees", 1), ("bo", 1), ("cor", 0)):
        export = env.json("referral", "export", "--partner", "wij_team", user=member)
        assert len(export["referrals"]) == count, member


def test_reports_and_budgets_only_of_ones_projects(team: Team) -> None:
    """A coordinator or back office with projects counts and budgets only those routes."""
    env = team.env
    env.ok("staff", "add", "cor", "--role", "coordinator", "--project", "participatiecoach")
    env.ok("staff", "add", "bea", "--role", "back_office", "--project", "participatiecoach")
    for member in ("cor", "bea"):
        refused = env.run("report", "outcomes", "--workflow", WORKFLOW, user=member)
        assert refused.exit_code == 1, refused.output
        assert (f"{member} may only make reports of their projects (participatiecoach); "
                f"{WORKFLOW} is not one of them") in refused.stderr
        every = env.run("report", "outcomes", "--workflow", "all", user=member)
        assert every.exit_code == 1
        assert "name one of them with --workflow" in every.stderr
        council = env.run("report", "council", "--as-of", "2099-01-05", "--workflow", WORKFLOW,
                          "--out", str(env.root / f"{member}.html"), user=member)
        assert council.exit_code == 1 and not (env.root / f"{member}.html").exists()
        env.ok("report", "outcomes", "--workflow", "participatiecoach", user=member)
        # Without --workflow: their one project, although other routes have cases.
        mine = env.json("report", "outcomes", "--json", user=member)
        assert mine["workflow"] == "participatiecoach"
    env.ok("budget", "set", "participatiecoach", "1000", user="cor")
    for args in (("budget", "set", WORKFLOW, "1000"), ("budget", "show", WORKFLOW)):
        budget = env.run(*args, user="cor")
        assert budget.exit_code == 1 and "may only manage budgets of their projects" in (
            budget.stderr), args
    env.ok("budget", "show", "participatiecoach", user="cor")
    # kees coordinates kansen-in-kaart.
    env.ok("report", "outcomes", "--workflow", WORKFLOW, user="kees")


def test_back_office_plans_a_wave_and_renders_its_letters(team: Team) -> None:
    env = team.env
    plan = env.json("cohort", "plan", "--workflow", WORKFLOW, "--wijk", WIJK, "--size", "3",
                    "--from", "2099-01-05", "--specialists", "1", user="bo")
    assert (plan["invited"], plan["failures"]) == (3, [])
    invited = [inv["case_id"] for inv in plan["invitations"]]
    assert {env.json("case", "show", str(c))["state"] for c in invited} == {"invited"}
    assert env.json("case", "show", str(invited[0]))["timeline"][-1]["actor"] == "bo"
    rendered = env.ok("letters", "render", "--json", user="bo")
    assert '"rendered": 3' in rendered.stdout


def test_assigning_a_case_to_someone_who_could_not_see_it_is_refused(team: Team) -> None:
    env = team.env
    env.ok("staff", "add", "cor", "--role", "coordinator", "--project", "participatiecoach")
    for worker, roles in (("bo", "back_office; projects kansen-in-kaart"), ("pia", "admin"),
                          ("cor", "coordinator; projects participatiecoach")):
        result = env.run("case", "assign", team.case(0), worker, user="kees")
        assert result.exit_code == 1, result.output
        assert (f"{worker} ({roles}) cannot be assigned case {team.case(0)}: they could not "
                f"see it; assign a case worker or a coordinator of {WORKFLOW}") in result.stderr
    assert env.json("case", "show", team.case(0))["assigned_to"] is None
    # Being assigned is what lets a case worker see a case outside their wijken.
    elsewhere = "1"  # Oosterparkwijk
    assert env.run("case", "show", elsewhere, user="piet").exit_code == 1
    env.ok("case", "assign", elsewhere, "piet", user="kees")
    env.ok("case", "show", elsewhere, user="piet")
    env.ok("case", "assign", elsewhere, "kees", user="kees")


def test_a_wave_is_assigned_at_once_with_counts(team: Team) -> None:
    env = team.env
    plan = env.json("cohort", "plan", "--workflow", WORKFLOW, "--wijk", WIJK, "--size", "4",
                    "--from", "2099-01-05", "--specialists", "2", user="bo")
    wave = [inv["case_id"] for inv in plan["invitations"]]
    env.ok("case", "assign", str(wave[0]), "piet", user="kees")
    env.ok("case", "advance", str(wave[1]), "decline", user="kees")
    env.ok("staff", "add", "sara", "--role", "case_worker")
    result = env.json("case", "assign", "--wave", str(plan["wave"]), "--wijk", WIJK, "sara",
                      user="kees")
    assert (result["open_cases"], result["assigned"], result["already_assigned"]) == (3, 3, 0)
    assert result["previous"] == {"piet": 1, "-": 2}
    assert result["case_ids"] == [wave[0], *wave[2:]]
    for case_id in result["case_ids"]:
        last = env.json("case", "show", str(case_id))["timeline"][-1]
        assert (last["trigger"], last["actor"], last["data"]["assigned_to"]) == (
            "assign", "kees", "sara")
    assert {c["id"] for c in env.json("case", "list", user="sara")["cases"]} == set(
        result["case_ids"])
    text = env.ok("case", "assign", "--wave", str(plan["wave"]), "--wijk", WIJK, "sara",
                  user="kees").stdout
    assert f"Wave {plan['wave']} in {WIJK} ({WORKFLOW}): 0 of 3 open cases assigned to sara; " \
        "3 already were." in text
    refused = env.run("case", "assign", "--wave", str(plan["wave"]), "--wijk", WIJK, "bo",
                      user="kees")
    assert refused.exit_code == 1 and "bo (back_office; projects kansen-in-kaart) cannot be " \
        "assigned the cases of kansen-in-kaart" in refused.stderr
    none = env.run("case", "assign", "--wave", "9", "--wijk", WIJK, "sara", user="kees")
    assert none.exit_code == 1 and "no open cases of wave 9 in wijk 'Beijum' that you may " \
        f"assign (waves with open cases there: {plan['wave']})" in none.stderr
    assert env.run("case", "assign", "--wave", "1", "sara", user="kees").exit_code == 2
    assert env.run("case", "assign", "--wave", "1", "--wijk", WIJK, "3", "sara",
                   user="kees").exit_code == 2
    assert env.run("case", "assign", "3", user="kees").exit_code == 2


def test_a_selection_of_cases_is_assigned_all_or_none(team: Team) -> None:
    env = team.env
    env.ok("staff", "add", "sara", "--role", "case_worker")
    first, second, third = team.case(0), team.case(1), team.case(2)
    env.ok("case", "assign", second, "sara", user="kees")
    result = env.json("case", "assign", first, second, third, first, "sara", user="kees")
    assert (result["cases"], result["assigned"], result["already_assigned"]) == (3, 2, 1)
    assert result["previous"] == {"-": 2}
    assert result["case_ids"] == [int(first), int(third)]
    last = env.json("case", "show", third)["timeline"][-1]
    assert (last["trigger"], last["actor"], last["data"]["assigned_to"]) == (
        "assign", "kees", "sara")
    text = env.ok("case", "assign", first, third, "piet", user="kees").stdout
    assert "2 of 2 cases assigned to piet (2 from sara)." in text
    # One case that cannot go (unknown, or the worker could not see it): none goes.
    unknown = env.run("case", "assign", second, "777", "piet", user="kees")
    assert unknown.exit_code == 1 and "no case 777" in unknown.stderr
    refused = env.run("case", "assign", second, first, "bo", user="kees")
    assert refused.exit_code == 1 and "cannot be assigned case" in refused.stderr
    assert env.json("case", "show", second)["assigned_to"] == "sara"
    # A case worker assigns nothing, not even their own cases.
    assert env.run("case", "assign", first, third, "sara", user="piet").exit_code == 1
    assert env.json("case", "show", first)["assigned_to"] == "piet"


def test_staff_edit_replaces_roles_wijken_and_projects_with_the_checks_of_staff_add(
        team: Team) -> None:
    env = team.env
    changed = env.json("staff", "edit", "piet", "--role", "case_worker", "--role",
                       "coordinator", "--wijk", "Vinkhuizen", "--project", WORKFLOW, user="pia")
    assert (changed["roles"], changed["wijken"], changed["projects"]) == (
        ["case_worker", "coordinator"], ["Vinkhuizen"], [WORKFLOW])
    assert changed["changed"] == ["projects", "roles", "wijken"]
    env.ok("case", "show", "1", user="piet")  # a coordinator of the route now
    env.ok("staff", "edit", "piet", "--role", "case_worker", "--project", "-", user="pia")
    listed = {m["name"]: m for m in env.json("staff", "list", user="pia")}["piet"]
    assert (listed["roles"], listed["wijken"], listed["projects"]) == (
        ["case_worker"], ["Vinkhuizen"], [])
    assert env.run("case", "show", "1", user="piet").exit_code == 1
    typo = env.run("staff", "edit", "piet", "--wijk", "Beyum", user="pia")
    assert typo.exit_code == 2
    assert "--wijk: 'Beyum' is not a known wijk; did you mean Beijum? Known: Beijum, " \
        in typo.stderr
    unknown = env.run("staff", "edit", "piet", "--project", "kansen", user="pia")
    assert unknown.exit_code == 2
    assert "--project: 'kansen' is not a known route; did you mean kansen-in-kaart?" \
        in unknown.stderr
    assert env.run("staff", "edit", "piet", "--role", "boss", user="pia").exit_code == 2
    assert env.run("staff", "edit", "piet", user="pia").exit_code == 1
    assert env.run("staff", "edit", "nobody", "--wijk", WIJK, user="pia").exit_code == 1
    added = env.run("staff", "add", "nina", "--role", "case_worker", "--wijk", "Beyum",
                    user="pia")
    assert added.exit_code == 2 and "did you mean Beijum?" in added.stderr
    last = env.run("staff", "edit", "pia", "--role", "coordinator", user="pia")
    assert last.exit_code == 0  # anna is an admin too
    lone = env.run("staff", "edit", "anna", "--role", "coordinator")
    assert lone.exit_code == 1 and "anna is the only active admin" in lone.stderr
