"""The route-driven season: any route played from what its file says, for routes whose people
do not follow the Groningen table (Meedoen Werkt!, Participatiecoach, Dienstencentrum).

Each workday, after the back office's morning (the daily run, batches, mid-season migration):
people who arrive one at a time (a route with a ``source`` field) have a case opened by the
case worker of their wijk; a seeded share of the open cases gets a step: their case worker asks
the core which steps the case allows now (``case_triggers``, what ``case triggers`` shows),
picks one, fills its fields from the route's field specs (choices from the spec, moments in the
coming weeks, dates in the last ones, numbers in range, employers that exist) and records the
consents the step needs (now and then deliberately not, to see the rule refuse); a candidate
whose pick is the route's meeting step goes to the next meeting and is recorded there
(``event attend``); some money is spent from the route's budget. Work due is done with an
outcome its task allows, escalations by the coordinator, a step blocked only by an exclusion is
now and then overridden by the coordinator. Timers are the daily run's.

A refusal by a rule is counted (``refused_by_rules``); an unexpected exception, a refusal of
what the role table gives, a step the core said was possible refused for its data, or a broken
invariant stops the season."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from casework.calendar import is_workday, next_workday
from casework.engine import Engine
from casework.errors import CaseworkError, TransitionNotAllowed
from casework.models import Case, Task
from casework.permissions import NotAllowed
from casework.simulation import behaviour as world
from casework.simulation.season import Season
from casework.workflow import Route, TransitionSpec, task_outcomes

# Text a case worker types in a text field (some with characters letters must print as such).
TEXTS = ("Buurthuis 't Hoekje", "Voedselbank Stad & Ommeland", "Taalcafé De Brug",
         "Kringloop \"Tweede Kans\"", "Medewerker magazijn", "Schoonmaak <ochtend>",
         "Training vrijwilligerswerk", "Koffiecorner", "Begeleiding bij sollicitatie")
EMPLOYERS = ("Bakkerij Van der Meer", "Groenbedrijf Noord", "Zorggroep 't Zonnehuis",
             "Logistiek Centrum Hoogkerk", "Hotel De Prins & Co", "Gemeentelijke kringloop")
PURPOSES = ("reiskosten", "cursus", "werkkleding", "kinderopvang", "fiets")
MEETING_EVERY = 28  # days between Meedoenpleinen


class RouteSeason(Season):
    """A season of a route played from its own file (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[dict[str, str]] = []
        self.arrival_days = 1
        self.employers: list[str] = []
        self.meetings: dict[date, int] = {}  # day -> meeting id
        self.to_meeting: dict[int, set[int]] = {}  # meeting id -> cases that go
        self.prepared = False

    # --- who comes in -------------------------------------------------------------------

    def take_in(self, engine: Engine, cohort: Path) -> list[str]:
        """A route of people who arrive one by one (a ``source`` field) opens their cases
        during the season; any other imports the cohort."""
        from casework.intake import SOURCE_FIELD

        if SOURCE_FIELD not in engine.registry.get(self.plan.workflow).fields:
            return super().take_in(engine, cohort)
        with cohort.open(encoding="utf-8", newline="") as fh:
            self.arrivals = [{k: v for k, v in row.items() if v}
                             for row in csv.DictReader(fh)]
        # Most arrive in the first two thirds of the season.
        self.arrival_days = max(1, sum(1 for n in range(self.plan.days * 2 // 3 or 1)
                                       if is_workday(self.plan.start + timedelta(days=n))))
        return sorted({row["wijk"] for row in self.arrivals})

    def arrive(self, day: date) -> None:
        from casework.intake import SOURCE_FIELD, open_case

        if not self.arrivals:
            return
        route = self.engine.registry.get(self.plan.workflow)
        per_day = -(-self.plan.people // self.arrival_days)
        for _ in range(min(per_day, len(self.arrivals))):
            person = self.arrivals.pop(0)
            self.clock.set(self.clock.moment + timedelta(minutes=5))
            worker = self.workers[person["wijk"]]
            source = self.value(route, None, route.fields[SOURCE_FIELD], day)
            opened = self.act(worker, "case.write", open_case, self.plan.workflow, person,
                              str(source))
            if opened is not None:
                self.wijk[opened["id"]] = person["wijk"]
                self.counts["opened"] += 1

    # --- what the coordinator sets up ---------------------------------------------------

    def prepare(self, day: date) -> None:
        """The first workday: employers (a route that matches with them), the season's
        meetings (a route with a meeting step) and the work budget of each year."""
        from casework.budgets import set_budget
        from casework.employers import add_employer
        from casework.meetings import add_meeting

        self.prepared = True
        route = self.engine.registry.get(self.plan.workflow)
        if any(t.records == "match" for t in route.transitions):
            for name in EMPLOYERS:
                if self.act("coordinator", "employers", add_employer, name, "zorg en welzijn",
                            "Mevrouw De Vries, 050-1234567") is not None:
                    self.employers.append(name)
        if route.meeting_step:
            for n in range(1, self.plan.days // MEETING_EVERY + 1):
                when = next_workday(self.plan.start + timedelta(days=MEETING_EVERY * n - 3))
                made = self.act("coordinator", "employers", add_meeting, when,
                                "Wijkcentrum De Hoogte", "meedoenplein", f"Meedoenplein {n}")
                if made is not None:
                    self.meetings[when] = made["id"]
        last = self.plan.start + timedelta(days=self.plan.days - 1)
        for year in range(self.plan.start.year, last.year + 1):
            self.act("coordinator", "budget.manage", set_budget, self.plan.workflow,
                     str(self.plan.people * world.BUDGET_PER_PERSON), year)

    # --- the day ------------------------------------------------------------------------

    def case_work(self, day: date) -> None:
        if not self.prepared:
            self.prepare(day)
        self.clock.set(self.at(day, 8))
        self.arrive(day)
        self.clock.set(self.at(day, 8, 30))
        self.work_due(day)
        self.clock.set(self.at(day, 10))
        self.steps(day)
        self.clock.set(self.at(day, 16))
        self.meeting(day)
        self.clock.set(self.at(day, 18))
        self.coordinator_work(day)

    def steps(self, day: date) -> None:
        """A seeded share of the open cases gets a step from their case worker."""
        with self.engine.db.connect() as conn:
            rows = conn.execute(select(Case.id, Case.workflow_version, Case.state).where(
                Case.workflow_id == self.plan.workflow, Case.closed_at.is_(None))
                .order_by(Case.id)).all()
        for case_id, version, state in rows:
            route = self.engine.registry.get(self.plan.workflow, version)
            # A state with planned work (aftercare, keeping in view) is mostly moved by it.
            waits = bool(route.states[state].tasks)
            if not self.do.chance(world.ROUTE_WAIT if waits else world.ROUTE_STEP):
                continue
            self.clock.set(self.clock.moment + timedelta(minutes=2))
            if self.do.chance(world.ROUTE_FLAGGED):
                self.gone(day, case_id, route)
                continue
            if self.do.chance(world.SPEND):
                self.spend(case_id)
            self.step(day, case_id, route)

    def gone(self, day: date, case_id: int, route: Route) -> None:
        """The person moved away or died: the case worker flags them and closes the case
        with that reason where the route has it (nothing more is sent to them)."""
        from casework.cases import flag_person

        flag = self.do.one_of(["moved", "deceased"])
        if self.act(self.worker_of(case_id), "case.write", flag_person, case_id,
                    flag) is None:
            return
        self.counts["flagged"] += 1
        reason = route.fields.get("reason")
        if reason is not None and flag in reason.choices and self.do.chance(0.8):
            self.take(day, case_id, "close", {"reason": flag}, False)

    def step(self, day: date, case_id: int, route: Route) -> None:
        from casework.cases import case_triggers

        worker = self.worker_of(case_id)
        shown = self.act(worker, "case.read", case_triggers, case_id)
        if shown is None:
            return
        possible = {t["trigger"]: t for t in shown["triggers"] if t["possible"]}
        excluded = [t["trigger"] for t in shown["triggers"]
                    if not t["possible"] and (t["reason"] or "").startswith("excluded")]
        if excluded and self.do.chance(world.OVERRIDE):
            self.override(day, case_id, route, shown["state"], excluded[0])
            return
        if not possible:
            return
        if all(t["dest"] and route.is_final(t["dest"]) for t in possible.values()) and \
                not self.do.chance(world.ONLY_ENDING):
            return  # nothing left but ending it (or kept out): it stays open a while
        trigger = self.do.pick({name: world.ENDING if t["dest"] and route.is_final(t["dest"])
                                else world.FORWARD for name, t in possible.items()})
        if trigger == route.meeting_step and self.meetings:
            self.sign_up(day, case_id)
            return
        transition = route.transition(trigger, shown["state"])
        assert transition is not None  # the core said it is possible from this state
        data = self.fill(route, transition, day)
        left_out = self.consents(case_id, route, transition, data)
        self.take(day, case_id, trigger, data, left_out)

    def take(self, day: date, case_id: int, trigger: str, data: dict[str, Any],
             left_out: bool, actor: str | None = None, **options: Any) -> None:
        """Take a step the core said was possible, with data its fields take: only a rule
        (or a consent deliberately not recorded) may refuse it."""
        who = actor or self.worker_of(case_id)
        try:
            self.engine.advance(case_id, trigger, self.as_actor(who), data, **options)
        except NotAllowed as exc:
            self.check.fail(day, case_id, "each role may do its own work",
                            f"{who} was refused 'case.write': {exc}")
        except TransitionNotAllowed as exc:
            self.refusal(exc)
        except CaseworkError as exc:
            if left_out:
                self.refusal(exc)
                return
            self.check.output(str(exc))
            self.check.fail(day, case_id, "a step the core allows, with data its fields take, "
                            "is taken", f"{trigger} {data}: {exc}")
        else:
            self.counts[trigger] += 1

    def refusal(self, exc: CaseworkError) -> None:
        import re

        self.check.output(str(exc))
        self.refused[re.sub(r"\d+", "N", str(exc))[:120]] += 1
        self.counts["refused"] += 1

    def override(self, day: date, case_id: int, route: Route, state: str,
                 trigger: str) -> None:
        """The coordinator approaches an excluded person anyway, saying why."""
        transition = route.transition(trigger, state)
        if transition is None:
            return
        self.take(day, case_id, trigger, self.fill(route, transition, day), False,
                  actor="coordinator", overrides=("exclusion",),
                  note="Besproken met de consulent: de persoon vraagt er zelf om.")

    def consents(self, case_id: int, route: Route, transition: TransitionSpec,
                 data: dict[str, Any]) -> bool:
        """Record the consents the step needs; return whether one was deliberately not."""
        from casework.consents import grant_consent

        scopes = [transition.consent.format(**data)] if transition.consent else []
        scopes += [route.fields[name].consent for name in data
                   if route.fields[name].consent]
        left_out = False
        for scope in scopes:
            if scope is None:
                continue
            if not self.do.chance(world.CONSENT_GIVEN):
                left_out = True
                continue
            self.act(self.worker_of(case_id), "case.write", grant_consent, case_id, scope,
                     "conversation")
        return left_out

    def fill(self, route: Route, transition: TransitionSpec, day: date) -> dict[str, Any]:
        """The step's data: every field it needs, now and then one it accepts."""
        data: dict[str, Any] = {}
        for name in transition.needs:
            data[name] = self.value(route, transition, route.fields[name], day)
        for name in transition.accepts:
            if self.do.chance(world.ACCEPTED_FIELD):
                data[name] = self.value(route, transition, route.fields[name], day)
        return data

    def value(self, route: Route, transition: TransitionSpec | None, spec: Any,
              day: date) -> Any:
        """A value of a field as a case worker gives it (the text the commands take)."""
        do = self.do
        if spec.name == "employer" and self.employers:
            return do.one_of(self.employers)
        if spec.name == "meeting" and self.meetings:
            held = [m for when, m in self.meetings.items() if when <= day]
            return do.one_of(held or list(self.meetings.values()))
        if spec.type == "datetime":  # an appointment in the coming weeks
            when = next_workday(day + timedelta(days=do.between(3, 20)))
            return f"{when.isoformat()} {do.between(9, 15):02d}:{do.one_of(['00', '30'])}"
        if spec.type == "date":  # something that happened in the last weeks
            return (max(self.plan.start, day - timedelta(days=do.between(0, 20)))).isoformat()
        if spec.type in ("int", "number"):
            low, high = spec.bounds()
            low, high = max(low, 0), min(high, low + 100 if spec.maximum is None else high)
            if spec.type == "int":
                return do.between(int(low) if spec.minimum is not None else 1,
                                  int(high) if spec.maximum is not None else 8)
            return do.between(int(low * 10), int(high * 10)) / 10
        if spec.type == "bool":
            return do.chance(0.7)
        if spec.type == "choice":
            return do.one_of(list(spec.choices))
        if spec.type == "choices":
            return sorted({do.one_of(list(spec.choices)) for _ in range(do.between(1, 3))})
        if spec.type == "notes":
            return {do.one_of(list(spec.keys)): "Besproken; zie verslag."}
        return do.one_of(list(TEXTS))

    # --- meetings, money and work -------------------------------------------------------

    def sign_up(self, day: date, case_id: int) -> None:
        """The candidate goes to the next meeting (recorded there by their case worker)."""
        coming = sorted(when for when in self.meetings if when > day)
        if coming:
            self.to_meeting.setdefault(self.meetings[coming[0]], set()).add(case_id)
            self.counts["signed_up"] += 1

    def meeting(self, day: date) -> None:
        """On a meeting's day each case worker records their candidates and some employers."""
        from casework.meetings import attend

        meeting = self.meetings.get(day)
        if meeting is None:
            return
        going = sorted(self.to_meeting.pop(meeting, set()))
        by_worker: dict[str, list[int]] = {}
        for case_id in going:
            by_worker.setdefault(self.worker_of(case_id), []).append(case_id)
        for worker, cases in sorted(by_worker.items()):
            self.clock.set(self.clock.moment + timedelta(minutes=5))
            employers = sorted({self.do.one_of(self.employers)
                                for _ in range(2)}) if self.employers else []
            done = self.act(worker, "case.write", attend, meeting, cases, employers)
            for entry in (done or {}).get("candidates", []):
                if entry["advanced"]:
                    self.counts["attended"] += 1
                    continue
                why = entry["why_not"] or ""
                if " may not " in why or " may only see " in why:
                    self.check.fail(day, entry["case"], "each role may do its own work",
                                    f"{worker} at meeting {meeting}: {why}")
                self.counts["present_without_step"] += 1

    def spend(self, case_id: int) -> None:
        from casework.budgets import spend

        amount = f"{self.do.between(25, 400)},{self.do.one_of(['00', '50', '95'])}"
        if self.act(self.worker_of(case_id), "case.write", spend, case_id, amount,
                    self.do.one_of(list(PURPOSES))) is not None:
            self.counts["spent"] += 1

    def work_due(self, day: date) -> None:
        """Each case worker does the work due by today with an outcome its task allows (a
        reached call with outcomes gives one of them and what its step needs)."""
        from casework.tasks import TaskFilter, complete_task, list_tasks

        for worker in sorted(set(self.workers.values())):
            due = self.act(worker, "case.read", list_tasks, TaskFilter(due=day), day)
            tasks = [t for t in (due or {}).get("tasks", [])
                     if t.get("role") in (None, "case_worker") and t["id"] not in self.left]
            if not tasks:
                continue
            with self.engine.db.connect() as conn:
                specs = dict(conn.execute(select(Task.id, Task.spec).where(
                    Task.id.in_([t["id"] for t in tasks]))).all())
            for task in tasks:
                if self.do.chance(world.CALL_LEFT):
                    self.left.add(task["id"])  # too busy: this work is never done
                    continue
                self.clock.set(self.clock.moment + timedelta(minutes=3))
                outcome, data = self.outcome(day, task, specs.get(task["id"]) or {})
                done = self.act(worker, "case.write", complete_task, task["id"], outcome, data)
                if done is not None:
                    self.counts[f"task_{outcome}"] += 1

    def outcome(self, day: date, task: dict[str, Any],
                spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        allowed = task_outcomes(task["kind"], spec)
        outcome = self.do.pick({o: world.TASK_OUTCOME[o] for o in allowed})
        if outcome != "reached" or not spec.get("outcomes"):
            return outcome, {}
        result = self.do.one_of(sorted(spec["outcomes"]))
        data: dict[str, Any] = {"result": result}
        chosen = spec["outcomes"][result]
        with self.engine.db.connect() as conn:
            version = conn.execute(select(Case.workflow_version).where(
                Case.id == task["case_id"])).scalar_one()
        route = self.engine.registry.get(self.plan.workflow, version)
        transition = route.transition(chosen["trigger"], task["case_state"])
        if transition is not None:
            for name in transition.needs:
                if name not in chosen.get("data", {}):
                    data[name] = self.value(route, transition, route.fields[name], day)
        return outcome, data


__all__ = ["RouteSeason"]
