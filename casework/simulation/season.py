"""A whole season played on a training database through the core's public calls, each by the
staff member whose role does it (back office, coordinator, a case worker per wijk, an admin),
with the training clock set to each moment; the invariants are checked after every day.

The world (who answers the phone, who is at home, what people choose) is seeded random in
casework.simulation.behaviour. The simulation reads the database only to know what the world
knows (which appointments are today, which calls are due); everything it changes goes through
the same calls the commands make.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import select

from casework.calendar import is_workday, next_workday
from casework.config import Settings, load_settings
from casework.engine import Engine
from casework.errors import CaseworkError, ConfigError, OptionRefused
from casework.models import PLANNED, Appointment, Case
from casework.permissions import Actor, NotAllowed, resolve
from casework.simulation import behaviour as world
from casework.simulation.behaviour import Behaviour
from casework.simulation.invariants import Checker

# The route whose season follows the Groningen table (behaviour.py); every other route plays
# a route-driven season (casework.simulation.routes).
REALISTIC = "kansen-in-kaart"


@dataclass
class SeasonPlan:
    """What to simulate: the route, the people, the days from start, the seed, where."""

    out: Path
    workflow: str = "kansen-in-kaart"
    people: int = 150
    days: int = 120
    seed: int = 1
    start: date = field(default_factory=lambda: date(2027, 1, 4))
    database_url: str | None = None


@dataclass
class SeasonResult:
    plan: SeasonPlan
    days: list[dict[str, Any]]
    outcomes: dict[str, Any]
    chart: Path
    config: Path
    staff: dict[str, list[str]]
    refused: dict[str, int]
    audit: dict[str, Any]
    labels: Any = None  # the route's words for the outcome table

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.plan.workflow, "people": self.plan.people,
            "days": self.plan.days, "seed": self.plan.seed,
            "start": self.plan.start.isoformat(), "config": str(self.config),
            "staff": self.staff, "per_day": self.days, "outcomes": self.outcomes,
            "chart": str(self.chart), "refused_by_rules": self.refused,
            "audit_intact": bool(self.audit.get("ok")), "violation": None,
            "season": "realistic" if self.plan.workflow == REALISTIC else "route-driven",
        }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


class Clock:
    """The training clock: set to each moment of the simulated day, never backwards."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> datetime:
        self.moment = max(moment, self.moment + timedelta(seconds=1))
        return self.moment


class Season:
    def __init__(self, plan: SeasonPlan, source: Settings) -> None:
        if plan.people < 10 or plan.people > 1_000_000:
            raise OptionRefused("--people must be between 10 and 1000000")
        if plan.days < 1 or plan.days > 1_000:
            raise OptionRefused("--days must be between 1 and 1000")
        self.plan = plan
        self.source = source
        self.do = Behaviour.seeded(plan.seed)
        self.out = plan.out
        self.tz = source.tz
        self.clock = Clock(datetime.combine(plan.start, time(6), tzinfo=self.tz))
        self.agenda: dict[date, list[tuple[int, str]]] = {}
        self.refused: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.workers: dict[str, str] = {}  # wijk -> case worker
        self.wave_days: dict[str, list[date]] = {}
        self.migrated = False
        self.left: set[int] = set()  # calls nobody will make
        self._actors: dict[str, Actor] = {}
        self._actors_day: date | None = None

    # --- set-up ---------------------------------------------------------------------------

    def setup(self) -> Engine:
        from casework.db import upgrade
        from casework.madeup import write_cohort
        from casework.staff import add_staff
        from casework.training import mark_training

        out = self.out
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise OptionRefused(f"--out {out}: the folder is not empty; give a new folder (the "
                              "season makes its own training database there)")
        routes = self.source.workflows_dir
        if not routes.is_dir():  # else the copy below would blame --out
            raise ConfigError(f"{routes}: no route files there ([paths] workflows); run the season "
                              "where config.toml is, or give --config")
        self.check_route(routes)
        try:
            out.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copytree(routes, out / "workflows")
        except OSError as exc:
            raise OptionRefused(f"--out {out}: cannot make the season's folder there "
                                f"({exc.strerror}); give a folder you may write") from None
        url = self.plan.database_url or "sqlite:///season.db"
        org = {key.split(".", 1)[1]: self.source[key] for key in (
            "organisation.name", "organisation.department", "organisation.address",
            "organisation.postcode_city", "organisation.phone", "organisation.contact",
            "organisation.website")}
        lines = [
            "# Made by 'casework simulate season': a training database and its season.",
            "[database]", f"url = {json.dumps(url)}",
            "[paths]", 'workflows = "workflows"',
            f"templates = {json.dumps(str(self.source.templates_dir))}", 'logs = "logs"',
            "[letters]", 'output_dir = "letters"',
            "[organisation]", *(f"{k} = {json.dumps(v)}" for k, v in org.items()),
        ]
        self.config = out / "config.toml"
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.settings = load_settings(self.config, environ={})
        from casework.access import with_chain_key
        from casework.db import current_revision, make_engine

        db = with_chain_key(make_engine(self.settings.database_url), self.settings)
        if current_revision(db) is not None:
            raise OptionRefused("--database-url names a database that is in use; the season "
                              "needs an empty one")
        upgrade(db)
        mark_training(db)
        db.dispose()
        engine = self._engine()
        cohort = out / "cohort.csv"
        write_cohort(cohort, self.plan.people, self.plan.seed)
        add_staff(engine, None, "beheer", "admin", "Beheerder")
        beheer = resolve(engine, "beheer")
        add_staff(engine, beheer, "backoffice", "back_office", "Backoffice")
        add_staff(engine, beheer, "coordinator", "coordinator", "Coördinator",
                  projects=[self.plan.workflow])
        self.clock.set(datetime.combine(self.plan.start, time(5), tzinfo=self.tz))
        for n, wijk in enumerate(self.take_in(engine, cohort)):
            name = "cw_" + _slug(wijk)
            add_staff(engine, beheer, name, "case_worker", f"Consulent {wijk}", wijken=[wijk])
            self.workers[wijk] = name
            # A wave per wijk every five weeks (most wijken get two), the wijken spread over
            # the first weeks.
            first = self.plan.start + timedelta(days=1 + (n % 5) * 3)
            self.wave_days[wijk] = [next_workday(first + timedelta(days=35 * k))
                                    for k in range(self.plan.days // 35 + 1)]
        self.staff = {"admin": ["beheer"], "back_office": ["backoffice"],
                      "coordinator": ["coordinator"],
                      "case_worker": sorted(self.workers.values())}
        return engine

    def check_route(self, routes: Path) -> None:
        """Refuse a --workflow no route file in the folder has (before anything is made)."""
        from casework.workflow import Registry

        try:
            Registry.from_dir(routes).get(self.plan.workflow)
        except CaseworkError as exc:
            raise OptionRefused(f"--workflow {self.plan.workflow}: {exc}") from None

    def take_in(self, engine: Engine, cohort: Path) -> list[str]:
        """The back office imports the cohort; return its wijken."""
        from casework.cohort import import_cohort

        import_cohort(engine, cohort, self.plan.workflow, resolve(engine, "backoffice"))
        with engine.db.connect() as conn:
            return sorted({w for (w,) in conn.execute(
                select(Case.wijk).where(Case.workflow_id == self.plan.workflow))})

    def _engine(self) -> Engine:
        engine = Engine.from_config(self.settings, clock=self.clock)
        return engine

    # --- the season -----------------------------------------------------------------------

    def run(self, progress: Callable[[dict[str, Any]], None] | None = None) -> SeasonResult:
        engine = self.setup()
        self.engine = engine
        self.check = Checker(self, engine)
        self.check.after_import()
        days: list[dict[str, Any]] = []
        for n in range(self.plan.days):
            day = self.plan.start + timedelta(days=n)
            self.counts = Counter()
            self.day = day
            if is_workday(day):
                self.workday(day)
            self.clock.set(self.at(day, 23))
            self.check.day(day)
            entry = {"day": day.isoformat(), **dict(sorted(self.counts.items()))}
            days.append(entry)
            if progress:
                progress(entry)
        return self.finish(days)

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.tz)

    def workday(self, day: date) -> None:
        from casework.daily import run_daily

        self.clock.set(self.at(day, 6))
        summary = run_daily(self.engine, self.as_actor("backoffice"), day, write_log=True)
        self.check.output(json.dumps(summary.as_dict(), default=str))
        if summary.failed:
            self.check.fail(day, None, "the daily run finishes",
                            f"{summary.failed} item(s) failed")
        self.counts["daily_done"] += summary.done
        self.clock.set(self.at(day, 6, 30))
        self.send_batches()  # yesterday's batches go to the mail house this morning
        self.letters_made(day, summary.letters)
        self.clock.set(self.at(day, 7))
        if not self.migrated and day >= self.plan.start + timedelta(days=self.plan.days // 2):
            self.migrate_route()
        self.case_work(day)
        self.check.probe_roles(day)

    def case_work(self, day: date) -> None:
        """The day's work on the cases, after the back office's morning."""
        self.plan_waves(day)
        self.clock.set(self.at(day, 8))
        self.calls(day)
        self.clock.set(self.at(day, 8, 30))
        self.agenda_items(day)
        self.chance_events(day)
        self.appointments(day)
        self.clock.set(self.at(day, 18))
        self.report_tasks(day)
        self.coordinator_work(day)

    # --- back office ----------------------------------------------------------------------

    def letters_made(self, day: date, letters: dict[str, Any]) -> None:
        """The daily run rendered the queue and made batches; the back office hands them to
        the mail house the next workday morning."""
        self.counts["letters_rendered"] += int(letters.get("rendered", 0))
        self.counts["letters_held"] += len(letters.get("held", []))
        self.counts["letters_held_flagged"] += len(letters.get("flagged", []))
        batches = list(letters.get("batches", []))
        self.check.batches_made(day, batches)
        self.unsent = [b["batch"] for b in batches]

    def send_batches(self) -> None:
        from casework.batches import mark_batch_sent

        for batch in getattr(self, "unsent", []):
            try:
                mark_batch_sent(self.engine, self.as_actor("backoffice"), batch)
            except CaseworkError as exc:
                self.check.fail(self.day, None, "a batch is handed to the mail house as it "
                                "was made", f"batch {batch}: {exc}")
                continue
            self.check.batch_sent(batch)
            self.counts["batches_sent"] += 1
        self.unsent = []

    def plan_waves(self, day: date) -> None:
        from casework.planning import plan_wave

        size_limit: int = self.engine.settings["planning.wave_size"]
        for wijk, days in self.wave_days.items():
            if day not in days:
                continue
            selected = self._count(Case.wijk == wijk, Case.state == "selected")
            if not selected:
                continue
            size = min(size_limit, max(1, (selected + 1) // 2) if day == days[0] else selected)
            # The wijk's own case worker and the next wijk's hold the conversations.
            names = sorted(set(self.workers.values()))
            own = self.workers[wijk]
            helper = names[(names.index(own) + 1) % len(names)]
            result = self.act("backoffice", "cohort.plan", plan_wave, self.plan.workflow, wijk,
                              size, next_workday(day + timedelta(days=8)),
                              sorted({own, helper}))
            if result is None:
                continue
            self.check.output(json.dumps(result, default=str))
            self.check.wave_planned(day, wijk, result)
            self.counts["invited"] += result["invited"]
            for failure in result["failures"]:
                if " may only see " in failure["reason"] or " may not " in failure["reason"]:
                    self.check.fail(day, failure["case_id"], "each role may do its own work",
                                    f"backoffice planned a wave in {wijk}: {failure['reason']}")
                self.refused[re.sub(r"\d+", "N", failure["reason"])[:120]] += 1

    def migrate_route(self) -> None:
        """Mid-season a new version of the route (a changed label) comes in and the open
        cases move to it, as a functional administrator would do it."""
        from casework.route_versions import migrate_cases

        self.migrated = True
        route = self.engine.registry.get(self.plan.workflow)
        text = route.path.read_text(encoding="utf-8")
        new = route.version + 1
        text, found = re.subn(r"(?m)^version = \d+.*$", f"version = {new}  # mid-season", text,
                              count=1)
        if not found:
            return
        text = text.replace('label = "Nabellen"', 'label = "Nabellen (tweede helft)"', 1)
        (self.out / "workflows" / f"{route.path.stem}_v{new}.toml").write_text(
            text, encoding="utf-8")
        route.path.unlink()  # the old version stays in the database for its cases
        self.engine = self._engine()
        self.check.engine = self.engine
        result = self.act("beheer", "workflow.migrate", migrate_cases, self.plan.workflow,
                          route.version, new, {})
        self.counts["migrated"] += int((result or {}).get("moved", 0))
        self.check.migrated(self.day, new)

    # --- case work ------------------------------------------------------------------------

    def as_actor(self, name: str) -> Actor:
        """Return the staff member as the actor of a core call, read once a day (what they
        may see follows the day's assignments)."""
        day = getattr(self, "day", None)
        if self._actors_day != day:
            self._actors, self._actors_day = {}, day
        if name not in self._actors:
            self._actors[name] = resolve(self.engine, name)
        return self._actors[name]

    def act(self, actor: str, permission: str, call: Callable[..., Any], *args: Any,
            **kwargs: Any) -> Any:
        """Do one piece of work as actor; a refusal by the role table for work the role
        table gives them breaks the season, a refusal by a rule is counted."""
        try:
            return call(self.engine, self.as_actor(actor), *args, **kwargs)
        except NotAllowed as exc:
            self.check.fail(self.day, _case_of(args), "each role may do its own work",
                            f"{actor} was refused {permission!r}: {exc}")
            return None
        except CaseworkError as exc:
            self.check.output(str(exc))
            reason = re.sub(r"\d+", "N", str(exc))[:120]
            self.refused[reason] += 1
            self.counts["refused"] += 1
            return None

    def advance(self, case_id: int, trigger: str, data: dict[str, Any] | None = None,
                actor: str | None = None) -> Any:
        who = actor or self.worker_of(case_id)

        def call(engine: Engine, who: Actor, case_id: int) -> Any:
            return engine.advance(case_id, trigger, who, data or {})

        step = self.act(who, "case.write", call, case_id)
        if step is not None:
            self.counts[trigger] += 1
        return step

    def worker_of(self, case_id: int) -> str:
        wijk = self.wijk.get(case_id)
        if wijk is None:
            with self.engine.db.connect() as conn:
                wijk = conn.execute(select(Case.wijk).where(Case.id == case_id)).scalar_one()
            self.wijk[case_id] = wijk
        return self.workers[wijk]

    @cached_property
    def wijk(self) -> dict[int, str]:
        """The wijk of each case (cases keep their wijk)."""
        with self.engine.db.connect() as conn:
            return dict(conn.execute(select(Case.id, Case.wijk)).all())

    def state_of(self, case_id: int) -> str:
        with self.engine.db.connect() as conn:
            return str(conn.execute(select(Case.state).where(Case.id == case_id)).scalar_one())

    def later(self, day: date, workdays: int, case_id: int, action: str) -> None:
        when = day
        for _ in range(max(1, workdays)):
            when = next_workday(when + timedelta(days=1))
        self.agenda.setdefault(when, []).append((case_id, action))

    def _count(self, *conditions: Any) -> int:
        from sqlalchemy import func

        with self.engine.db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Case).where(
                Case.workflow_id == self.plan.workflow, *conditions)).scalar_one())

    def calls(self, day: date) -> None:
        """Reminder and follow-up calls due today, by the case worker of each wijk."""
        from casework.tasks import TaskFilter, complete_task, list_tasks

        for worker in sorted(set(self.workers.values())):
            due = self.act(worker, "case.read", list_tasks, TaskFilter(due=day), day)
            for task in (due or {}).get("tasks", []):
                if task.get("role") not in (None, "case_worker"):
                    continue
                if task["id"] in self.left:
                    continue
                if self.do.chance(world.CALL_LEFT):
                    self.left.add(task["id"])  # too busy: this call is never made
                    continue
                self.clock.set(self.clock.moment + timedelta(minutes=3))
                kind = task["kind"]
                data: dict[str, Any] = {}
                if kind == "follow_up_call":
                    outcome = self.do.pick(world.FOLLOW_UP_CALL)
                    if outcome == "reached":
                        data["result"] = self.do.pick(world.FOLLOW_UP_RESULT)
                    if data.get("result") == "became_active":
                        data["activity"] = self.do.pick(world.ACTIVITY)
                    elif data.get("result") == "to_social_team":
                        # Said yes on the phone to the WIJ-team being told.
                        from casework.consents import grant_consent

                        self.act(worker, "case.write", grant_consent, task["case_id"],
                                 "share:wij_team", "phone")
                elif kind.endswith("_call"):
                    outcome = self.do.pick(world.CALL)
                else:
                    continue  # reports are written in the afternoon
                done = self.act(worker, "case.write", complete_task, task["id"], outcome, data)
                if done is not None:
                    self.counts[f"call_{outcome}"] += 1

    def report_tasks(self, day: date) -> None:
        """Conversation reports (and other non-call work) due by today are done."""
        from casework.tasks import TaskFilter, complete_task, list_tasks

        for worker in sorted(set(self.workers.values())):
            due = self.act(worker, "case.read", list_tasks, TaskFilter(due=day), day)
            for task in (due or {}).get("tasks", []):
                if task["kind"].endswith("_call") or task.get("role") not in (None,
                                                                                "case_worker"):
                    continue
                self.clock.set(self.clock.moment + timedelta(minutes=2))
                if task["kind"] == "new_appointment" and \
                        self.state_of(task["case_id"]) == "invited":
                    # The invitation could not arrive in time: propose another appointment.
                    when = next_workday(day + timedelta(days=10))
                    self.advance(task["case_id"], "reschedule",
                                 {"appointment": f"{when.isoformat()} 14:00"}, worker)
                    continue
                if self.act(worker, "case.write", complete_task, task["id"], "done") is not None:
                    self.counts["tasks_done"] += 1

    def coordinator_work(self, day: date) -> None:
        """Escalations (a late report, a partner that did not answer) are followed up."""
        from casework.tasks import TaskFilter, complete_task, list_tasks

        due = self.act("coordinator", "case.read", list_tasks, TaskFilter(due=day), day)
        for task in (due or {}).get("tasks", []):
            if task.get("role") != "coordinator":
                continue
            self.clock.set(self.clock.moment + timedelta(minutes=2))
            if self.act("coordinator", "case.write", complete_task, task["id"],
                        "done") is not None:
                self.counts["escalations_done"] += 1

    def appointments(self, day: date) -> None:
        start, end = self.at(day, 0), self.at(day + timedelta(days=1), 0)
        with self.engine.db.connect() as conn:
            rows = conn.execute(
                select(Appointment.case_id, Appointment.starts_at)
                .join(Case, Case.id == Appointment.case_id)
                .where(Appointment.status == PLANNED, Appointment.starts_at >= start,
                       Appointment.starts_at < end, Case.state == "invited")
                .order_by(Appointment.starts_at, Appointment.case_id)
            ).all()
        for case_id, starts_at in rows:
            self.clock.set(starts_at + timedelta(minutes=75))
            if self.do.chance(world.RECORDED_LATE):  # the specialist records it days later
                self.later(day, self.do.between(1, 4), case_id,
                           f"late_outcome:{starts_at.isoformat()}")
                continue
            self.appointment_outcome(day, case_id, starts_at)

    def appointment_outcome(self, day: date, case_id: int, starts_at: datetime) -> None:
        """What happened at the appointment, recorded by the case worker."""
        outcome = self.do.pick(world.APPOINTMENT)
        if outcome == "held":
            self.conversation(day, case_id)
        elif outcome == "declined":
            self.advance(case_id, "decline")
        elif outcome == "unreachable":
            self.advance(case_id, "close", {"reason": "unreachable"})
        else:
            tries = self._attempts(case_id).get("not_home", 0)
            if tries >= 2:
                self.advance(case_id, "close", {"reason": "not_at_home"})
            else:
                again = datetime.combine(next_workday(day + timedelta(days=7)),
                                         starts_at.astimezone(self.tz).time(),
                                         tzinfo=self.tz)
                self.advance(case_id, "not_home",
                             {"appointment": again.strftime("%Y-%m-%d %H:%M")})

    def _appointment(self, case_id: int) -> datetime | None:
        with self.engine.db.connect() as conn:
            data = conn.execute(select(Case.data).where(Case.id == case_id)).scalar_one()
        moment = (data or {}).get("appointment")
        return datetime.fromisoformat(moment) if moment else None

    def _attempts(self, case_id: int) -> dict[str, int]:
        with self.engine.db.connect() as conn:
            data = conn.execute(select(Case.data).where(Case.id == case_id)).scalar_one()
        return dict((data or {}).get("attempts", {}))

    def conversation(self, day: date, case_id: int) -> None:
        classification = self.do.pick(world.CLASSIFICATION)
        potential = self.do.pick(world.POTENTIAL[classification])
        after = self.do.pick(world.AFTER_TALK)
        partner = self.do.pick(world.PARTNER) if after == "refer" else None
        consent = ["record_report"] if self.do.chance(world.CONSENT_RECORD_REPORT) else []
        if partner and self.do.chance(world.CONSENT_TO_SHARE):
            consent.append(f"share:{partner}")
        data: dict[str, Any] = {"classification": classification,
                                "participation_potential": potential}
        if consent:
            data["consent"] = consent
        if "record_report" in consent:
            data["themes"] = {"daily_activities": "Gesprek gevoerd; zie verslag."}
        if self.advance(case_id, "hold_conversation", data) is None:
            return
        # A referral follows soon; a case is closed before or after its report is written
        # (the report is owed to the person: closing leaves it and its letter).
        wait = self.do.between(1, 3) if after != "close" else self.do.between(1, 9)
        self.later(day, wait, case_id, f"refer:{partner}" if partner else after)

    def agenda_items(self, day: date) -> None:
        for case_id, action in self.agenda.pop(day, []):
            self.clock.set(self.clock.moment + timedelta(minutes=2))
            state = self.state_of(case_id)
            if action.startswith("refer:") and state == "spoken":
                self.advance(case_id, "refer", {"partner": action.split(":", 1)[1]})
                if self.state_of(case_id) == "referred":
                    self.later(day, self.do.between(8, 25), case_id, "referral_outcome")
                else:  # no consent to share: nothing more
                    self.advance(case_id, "close", {"reason": "no_support_needed"})
            elif action.startswith("late_outcome:") and state == "invited":
                when = self._appointment(case_id)  # unless it was moved since
                if when is not None and when == datetime.fromisoformat(action.split(":", 1)[1]):
                    self.appointment_outcome(day, case_id, when)
            elif action.startswith("close:") and state not in self.check.finals:
                self.advance(case_id, "close", {"reason": action.split(":", 1)[1]})
            elif action == "self_action" and state == "spoken":
                self.advance(case_id, "self_action")
            elif action == "close" and state == "spoken":
                self.advance(case_id, "close", {"reason": "no_support_needed"})
            elif action == "referral_outcome" and state == "referred":
                outcome = self.do.pick(world.AFTER_REFERRAL)
                if outcome == "start_activity":
                    self.advance(case_id, "start_activity",
                                 {"activity": self.do.pick(world.ACTIVITY)})
                    self.later(day, self.do.between(15, 50), case_id, "activity_outcome")
                elif outcome == "wait":
                    self.later(day, self.do.between(10, 20), case_id, "referral_outcome")
                else:
                    self.advance(case_id, "close", {"reason": outcome})
            elif action == "activity_outcome" and state == "active":
                outcome = self.do.pick(world.AFTER_ACTIVITY)
                if outcome == "record_outflow":
                    self.advance(case_id, "record_outflow", {
                        "outflow_date": day.isoformat(),
                        "fte": self.do.one_of(["0.5", "0.8", "1.0"])})
                elif outcome == "follow_up":
                    self.advance(case_id, "follow_up")

    def chance_events(self, day: date) -> None:
        """What happens to people between the steps: some call to cancel, move or die; some
        withdraw their consent to share after a referral."""
        from casework.cases import flag_person
        from casework.consents import withdraw_consent

        with self.engine.db.connect() as conn:
            rows = conn.execute(select(Case.id, Case.state).where(
                Case.workflow_id == self.plan.workflow, Case.closed_at.is_(None),
                Case.state != "selected").order_by(Case.id)).all()
        for case_id, state in rows:
            if state == "invited" and self.do.chance(world.DECLINE_BEFORE):
                self.clock.set(self.clock.moment + timedelta(minutes=1))
                self.advance(case_id, "decline")
            elif state == "invited" and self.do.chance(world.RESCHEDULE):
                self.clock.set(self.clock.moment + timedelta(minutes=1))
                soon = self.do.chance(world.RESCHEDULE_SOON)
                when = next_workday(day + timedelta(days=1 if soon else 10))
                self.advance(case_id, "reschedule",
                             {"appointment": f"{when.isoformat()} 11:00"})
            elif self.do.chance(world.MOVED):
                self.clock.set(self.clock.moment + timedelta(minutes=1))
                self.advance(case_id, "close", {"reason": "moved"})
            elif self.do.chance(world.DECEASED):
                self.clock.set(self.clock.moment + timedelta(minutes=1))
                self.advance(case_id, "close", {"reason": "deceased"})
            elif self.do.chance(world.FLAGGED):
                # Known first as a flag (the case stays open a few days): nothing may reach
                # them meanwhile, whatever closes the case.
                self.clock.set(self.clock.moment + timedelta(minutes=1))
                flag = self.do.one_of(["deceased", "moved"])
                if self.act(self.worker_of(case_id), "case.write", flag_person, case_id,
                            flag) is not None:
                    self.counts["flagged"] += 1
                    # Closed as what happened, or (the field's mistake) for another reason.
                    reason = flag if self.do.chance(0.5) else "other"
                    self.later(day, self.do.between(2, 6), case_id, f"close:{reason}")
            elif state == "referred" and self.do.chance(world.WITHDRAW):
                self.clock.set(self.clock.moment + timedelta(minutes=1))
                partner = self._partner(case_id)
                if partner:
                    done = self.act(self.worker_of(case_id), "case.write", withdraw_consent,
                                    case_id, f"share:{partner}", "phone")
                    if done is not None:
                        self.counts["consent_withdrawn"] += 1

    def _partner(self, case_id: int) -> str | None:
        with self.engine.db.connect() as conn:
            data = conn.execute(select(Case.data).where(Case.id == case_id)).scalar_one()
        return (data or {}).get("partner")

    # --- the end --------------------------------------------------------------------------

    def finish(self, days: list[dict[str, Any]]) -> SeasonResult:
        from casework.audit import seal, verify
        from casework.reports import Scope, outcomes_chart, run_report

        last = self.plan.start + timedelta(days=self.plan.days - 1)
        self.clock.set(datetime.combine(last, time(23, 30), tzinfo=self.tz))
        self.check.as_of_reports_unchanged(last)
        self.check.cli_outputs()
        report = run_report(self.engine, self.as_actor("coordinator"), "outcomes",
                            Scope(last, self.plan.workflow))
        chart = self.out / "outcomes.png"
        from casework.outfiles import open_output

        with open_output(chart, binary=True) as target:
            outcomes_chart(report, target)
        seal(self.engine, self.as_actor("beheer"))
        audit = verify(self.engine, self.as_actor("beheer"))
        if not audit.get("ok"):
            self.check.fail(last, None, "audit verify is intact at the end",
                            json.dumps(audit, default=str)[:300])
        self.check.files()
        from casework.reports.scope import report_labels

        labels = report_labels(self.engine, Scope(last, self.plan.workflow))
        return SeasonResult(self.plan, days, report, chart, self.config, self.staff,
                            dict(self.refused.most_common(20)), audit, labels)


def _case_of(args: tuple[Any, ...]) -> int | None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool):
            return arg
    return None


def simulate_season(plan: SeasonPlan, source: Settings,
                    progress: Callable[[dict[str, Any]], None] | None = None) -> SeasonResult:
    """Play a season (see the module) and return its days, outcome table and chart;
    SeasonBroken names the first day, case and rule that failed."""
    if plan.workflow == REALISTIC:
        return Season(plan, source).run(progress)
    from casework.simulation.routes import RouteSeason

    return RouteSeason(plan, source).run(progress)

