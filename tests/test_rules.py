"""Pluggable rules: routes name the rules they use, unknown names fail validation, config.toml
switches rules off, a rule can guard a step, exclude a person, add letter variables and react
after a step; the built-in voluntary rule; and blocked triggers explained by their rule."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import ROOT, WORKFLOWS, Env
from helpers import advance
from sqlalchemy import func, select

import casework.rules
from casework.models import Consent, Event, Referral, Task
from casework.rules import BUILTIN, Block, Rules, hookimpl

WORKFLOW = "kansen-in-kaart"
HEADER = ("bsn,initials,prefix,surname,street,house_number,house_number_suffix,postcode,city,"
          "wijk,phone,email,wij_team_contact,last_guidance")
INVITE = ("invite", "--set", "appointment=2099-01-05 10:00")
CONVERSATION = ("hold_conversation", "--set", "classification=work_potential",
                "--set", "participation_potential=supported")
FOUR = '["voluntary", "consent", "exclusion", "capacity"]'


def configure(env: Env, workflows: Path = WORKFLOWS, extra: str = "") -> None:
    env.config.write_text(
        f'[database]\nurl = "{env.database_url}"\n\n'
        f'[paths]\nworkflows = "{workflows.as_posix()}"\n'
        f'templates = "{(ROOT / "templates" / "letters").as_posix()}"\n' + extra,
        encoding="utf-8")


def kansen_in_kaart(folder: Path, rules: str) -> Path:
    """Write the Kansen in Kaart route with another list of rules into folder; return it."""
    folder.mkdir(exist_ok=True)
    text = (WORKFLOWS / "kansen_in_kaart.toml").read_text(encoding="utf-8")
    assert f"rules = {FOUR}" in text
    (folder / "kansen_in_kaart.toml").write_text(text.replace(f"rules = {FOUR}",
                                                              f"rules = {rules}"),
                                                 encoding="utf-8")
    return folder


def import_people(env: Env, *surnames: str) -> None:
    rows = [f"{bsn},A.,,{name},Vinkenstraat,{n + 1},,9712 AB,Groningen,Vinkhuizen,,,no,"
            for n, (bsn, name) in enumerate(zip(("730000011", "730000023", "730000035"),
                                                surnames, strict=False))]
    path = env.root / "people.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    env.ok("cohort", "import", str(path), "--workflow", WORKFLOW)


def error_line(env: Env, *args: str) -> str:
    result = env.run(*args)
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    return line


def triggers(env: Env, case_id: int) -> dict[str, Any]:
    data = env.json("case", "triggers", str(case_id))
    return {t["trigger"]: t for t in data["triggers"]}


def count(env: Env, model: Any, case_id: int) -> int:
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            column = model.participant_id if model is Consent else model.case_id
            return int(conn.execute(select(func.count()).select_from(model)
                                    .where(column == case_id)).scalar_one())
    finally:
        engine.db.dispose()


@pytest.fixture
def people(env: Env) -> Env:
    import_people(env, "Mulder", "Visser", "Smit")
    return env


MINIMAL = """
[workflow]
id = "mini"
version = 1
initial = "open"
rules = {rules}

[fields.reason]
type = "text"

[states.open]
[states.waiting]
[states.done]
final = true
{extra_states}
[[transitions]]
trigger = "start"
source = "open"
dest = "waiting"
{start}
[[transitions]]
trigger = "finish"
source = "waiting"
dest = "done"

[[transitions]]
trigger = "decline"
source = {decline_from}
dest = "{decline_to}"
{decline}
"""


def minimal(folder: Path, rules: str = '["voluntary"]', decline_from: str = '"*"',
            decline_to: str = "done", start: str = "", decline: str = "",
            extra_states: str = "") -> Path:
    path = folder / "mini.toml"
    path.write_text(MINIMAL.format(rules=rules, decline_from=decline_from,
                                   decline_to=decline_to, start=start, decline=decline,
                                   extra_states=extra_states), encoding="utf-8")
    return path


def validate(env: Env, path: Path) -> tuple[int, list[str]]:
    result = env.run("workflow", "validate", str(path))
    lines = (result.stdout if result.exit_code == 0 else result.stderr).strip().splitlines()
    return result.exit_code, lines


# --- naming rules -----------------------------------------------------------------------------


def test_the_four_built_in_rules_are_known() -> None:
    assert set(BUILTIN) == {"voluntary", "consent", "exclusion", "capacity"}
    assert set(BUILTIN) <= set(Rules().names)


def test_kansen_in_kaart_uses_all_four_rules_and_validates(env: Env) -> None:
    shown = env.json("workflow", "show", WORKFLOW)
    assert shown["rules"] == ["voluntary", "consent", "exclusion", "capacity"]
    code, lines = validate(env, WORKFLOWS / "kansen_in_kaart.toml")
    assert code == 0
    assert lines[0].endswith("ok (kansen-in-kaart version 6, 7 states, 11 triggers)")
    assert "rules: voluntary, consent, exclusion, capacity" in env.ok(
        "workflow", "show", WORKFLOW).output


def test_an_unknown_rule_is_a_validation_error_naming_the_file(env: Env) -> None:
    path = minimal(env.root, rules='["voluntary", "punctuality"]')
    code, lines = validate(env, path)
    assert code == 1
    assert lines[0].startswith(f"{path}: [workflow]: unknown rule 'punctuality' (known: ")
    assert "capacity, consent, exclusion, voluntary" in lines[0]
    assert lines[-1] == "1 problem found; fix them and validate again."


def test_an_unknown_rule_in_the_workflows_folder_stops_the_commands_that_load_it(
        env: Env) -> None:
    folder = env.root / "workflows"
    folder.mkdir()
    path = minimal(folder, rules='["punctuality"]')
    configure(env, folder)
    line = error_line(env, "workflow", "list")
    assert str(path) in line and "unknown rule 'punctuality'" in line


def test_a_route_without_rules_validates_however_it_declines(env: Env) -> None:
    code, _ = validate(env, minimal(env.root, rules="[]", decline_from='"open"'))
    assert code == 0


def test_rules_only_act_on_routes_that_name_them(env: Env) -> None:
    configure(env, kansen_in_kaart(env.root / "workflows", "[]"))
    import_people(env, "Mulder")
    advance(env, 1, *INVITE)
    advance(env, 1, *CONVERSATION, "--set", "themes.health=rugklachten")
    advance(env, 1, "refer", "--set", "partner=coach_meedoen")
    case = env.json("case", "show", "1")
    assert [r["partner"] for r in case["referrals"]] == ["coach_meedoen"]
    assert "invitation_variant" not in case["data"]


def test_a_route_naming_only_consent_gets_only_consent(env: Env) -> None:
    configure(env, kansen_in_kaart(env.root / "workflows", '["consent"]'))
    import_people(env, "Mulder")
    advance(env, 1, *INVITE)
    assert "invitation_variant" not in env.json("case", "show", "1")["data"]
    advance(env, 1, *CONVERSATION)
    line = error_line(env, "case", "advance", "1", "refer", "--set", "partner=coach_meedoen")
    assert "(rule consent)" in line


def test_config_switches_a_rule_off_for_every_route(people: Env) -> None:
    configure(people, extra='\n[rules]\ndisabled = ["consent"]\n')
    advance(people, 1, *INVITE)
    advance(people, 1, *CONVERSATION, "--set", "themes.health=rugklachten")
    advance(people, 1, "refer", "--set", "partner=coach_meedoen")
    assert people.json("case", "show", "1")["state"] == "referred"


def test_a_rule_switched_off_does_not_check_routes_but_its_name_stays_known(env: Env) -> None:
    configure(env, extra='\n[rules]\ndisabled = ["voluntary"]\n')
    code, _ = validate(env, minimal(env.root, decline_from='"open"'))
    assert code == 0
    code, lines = validate(env, minimal(env.root, rules='["voluntary", "punctuality"]'))
    assert code == 1
    assert "unknown rule 'punctuality'" in lines[0]


# --- voluntary: validation --------------------------------------------------------------------


def test_voluntary_route_needs_a_decline_from_every_open_state(env: Env) -> None:
    path = minimal(env.root, decline_from='"open"')
    code, lines = validate(env, path)
    assert code == 1
    assert lines[0] == (f"{path}: state 'waiting': a voluntary route needs a 'decline' to a "
                        "final state from every open state (rule voluntary)")


def test_voluntary_route_names_every_state_without_a_decline(env: Env) -> None:
    path = minimal(env.root, decline_from='"open"',
                   extra_states='[states.paused]\n\n[[transitions]]\ntrigger = "pause"\n'
                                'source = "waiting"\ndest = "paused"\n\n[[transitions]]\n'
                                'trigger = "resume"\nsource = "paused"\ndest = "waiting"\n')
    code, lines = validate(env, path)
    assert code == 1
    assert [line.split(": ")[1] for line in lines[:-1]] == ["state 'waiting'", "state 'paused'"]
    assert all(line.startswith(str(path)) for line in lines[:-1])


def test_voluntary_decline_must_close_the_case(env: Env) -> None:
    path = minimal(env.root, decline_to="waiting", decline_from='["open"]')
    code, lines = validate(env, path)
    assert code == 1
    assert "state 'open': a voluntary route needs a 'decline' to a final state" in lines[0]


@pytest.mark.parametrize("flag,words", [("sanction", "marked as a sanction"),
                                        ("benefit", "touches benefit data")])
def test_voluntary_route_may_not_mark_a_transition_as_sanction_or_benefit(
        env: Env, flag: str, words: str) -> None:
    path = minimal(env.root, start=f"{flag} = true\n")
    code, lines = validate(env, path)
    assert code == 1
    assert lines[0].startswith(f"{path}: transition 'start' from 'open': {words}")
    assert lines[0].endswith("(rule voluntary)")


def test_sanction_is_allowed_on_a_route_that_is_not_voluntary(env: Env) -> None:
    code, _ = validate(env, minimal(env.root, rules="[]", start="sanction = true\n"))
    assert code == 0


def test_voluntary_decline_may_not_ask_for_data(env: Env) -> None:
    path = minimal(env.root, decline='needs = ["reason"]\n')
    code, lines = validate(env, path)
    assert code == 1
    assert "declining may only close the case" in lines[0]


# --- voluntary: declining ---------------------------------------------------------------------


def test_decline_after_the_invitation_only_closes_the_case(people: Env) -> None:
    advance(people, 1, *INVITE)
    assert [t for t in people.json("task", "list", "--due", "2099-12-31")["tasks"]
            if t["case_id"] == 1]
    events, tasks = count(people, Event, 1), count(people, Task, 1)
    advance(people, 1, "decline")
    case = people.json("case", "show", "1")
    assert (case["state"], case["close_reason"]) == ("closed", "declined")
    assert [a["status"] for a in case["appointments"]] == ["cancelled"]
    assert case["referrals"] == []
    assert count(people, Event, 1) == events + 1
    assert count(people, Task, 1) == tasks  # nothing new planned
    assert [t for t in people.json("task", "list", "--due", "2099-12-31")["tasks"]
            if t["case_id"] == 1] == []
    assert count(people, Consent, 1) == 0
    assert case["timeline"][-1]["data"] == {}


def test_decline_after_the_conversation_refers_nobody_and_leaves_only_the_report_owed(
        people: Env) -> None:
    """Declining has no other consequence: nothing goes to a partner; the report of the
    conversation held is still owed to the person (Kansen in Kaart 6: a letter, the
    confirmation, goes to them anyway)."""
    advance(people, 1, *INVITE)
    advance(people, 1, *CONVERSATION, "--set", "consent=share:wij_team")
    advance(people, 1, "decline")
    case = people.json("case", "show", "1")
    assert case["state"] == "closed"
    assert case["referrals"] == []
    assert count(people, Referral, 1) == 0
    assert [a["status"] for a in case["appointments"]] == ["held"]
    open_tasks = people.json("task", "list", "--due", "2099-12-31")["tasks"]
    assert [t["kind"] for t in open_tasks if t["case_id"] == 1] == ["report_due"]


def test_decline_stays_possible_after_the_most_not_home_visits(people: Env) -> None:
    advance(people, 1, *INVITE)
    for _ in range(3):
        advance(people, 1, "not_home")
    possible = triggers(people, 1)
    assert not possible["not_home"]["possible"]
    assert possible["decline"]["possible"]
    advance(people, 1, "decline")
    assert people.json("case", "show", "1")["state"] == "closed"


def test_every_open_state_of_kansen_in_kaart_offers_decline(people: Env) -> None:
    path = [INVITE, (*CONVERSATION, "--set", "consent=share:wij_team"),
            ("refer", "--set", "partner=wij_team"),
            ("start_activity", "--set", "activity=volunteering"), ("follow_up",)]
    seen = []
    for step in [(), *path]:
        if step:
            advance(people, 1, *step)
        data = people.json("case", "triggers", "1")
        seen.append(data["state"])
        decline = {t["trigger"]: t for t in data["triggers"]}["decline"]
        assert decline["possible"], decline
        assert (decline["dest"], decline["needs"]) == ("closed", [])
    assert seen == ["selected", "invited", "spoken", "referred", "active", "follow_up"]


# --- voluntary: the invitation ----------------------------------------------------------------


def test_the_invitation_variant_is_recorded_on_the_invite_and_the_case(people: Env) -> None:
    advance(people, 1, *INVITE)
    case = people.json("case", "show", "1")
    assert case["data"]["invitation_variant"] == "with_sentence"
    invite = case["timeline"][-1]
    assert invite["trigger"] == "invite"
    assert invite["data"]["invitation_variant"] == "with_sentence"


def test_the_project_can_choose_the_invitation_without_the_sentence(people: Env) -> None:
    configure(people, extra='\n[rules.voluntary]\ninvitation_variant = "without_sentence"\n')
    advance(people, 1, *INVITE)
    case = people.json("case", "show", "1")
    assert case["data"]["invitation_variant"] == "without_sentence"
    assert case["timeline"][-1]["data"]["invitation_variant"] == "without_sentence"


def test_a_wave_records_the_invitation_variant_of_every_invitation(people: Env) -> None:
    configure(people, extra='\n[rules.voluntary]\ninvitation_variant = "without_sentence"\n')
    plan = people.json("cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Vinkhuizen",
                       "--from", "2099-01-05", "--specialists", "1")
    assert plan["invited"] == 3
    for case_id in (1, 2, 3):
        assert people.json("case", "show", str(case_id))["data"]["invitation_variant"] == (
            "without_sentence")


def test_the_variant_stays_on_the_case_after_a_reschedule(people: Env) -> None:
    advance(people, 1, *INVITE)
    configure(people, extra='\n[rules.voluntary]\ninvitation_variant = "without_sentence"\n')
    advance(people, 1, "reschedule", "--set", "appointment=2099-02-05 10:00")
    assert people.json("case", "show", "1")["data"]["invitation_variant"] == "with_sentence"


def test_an_unknown_invitation_variant_is_a_config_error(env: Env) -> None:
    configure(env, extra='\n[rules.voluntary]\ninvitation_variant = "shorter"\n')
    line = error_line(env, "workflow", "list")
    assert "rules.voluntary.invitation_variant" in line
    assert "with_sentence or without_sentence" in line and "'shorter'" in line


@pytest.mark.parametrize("variant,sentence", [("with_sentence", True),
                                              ("without_sentence", False)])
def test_the_invitation_letter_gets_the_variant_and_whether_to_print_the_sentence(
        env: Env, variant: str, sentence: bool) -> None:
    configure(env, extra=f'\n[rules.voluntary]\ninvitation_variant = "{variant}"\n')
    engine = env.engine()
    try:
        route = engine.registry.get(WORKFLOW)
        assert engine.rules.letter_variables(route, {}, "uitnodiging", engine.settings) == {
            "variant": variant, "voluntary_sentence": sentence}
        assert engine.rules.letter_variables(route, {}, "verslag", engine.settings) == {}
    finally:
        engine.db.dispose()


def test_without_the_voluntary_rule_the_letter_gets_no_variant(env: Env) -> None:
    configure(env, extra='\n[rules]\ndisabled = ["voluntary"]\n')
    engine = env.engine()
    try:
        route = engine.registry.get(WORKFLOW)
        assert engine.rules.letter_variables(route, {}, "uitnodiging", engine.settings) == {}
    finally:
        engine.db.dispose()


# --- explained: case triggers and case advance ------------------------------------------------


def test_triggers_explain_a_referral_blocked_by_consent(people: Env) -> None:
    advance(people, 1, *INVITE)
    advance(people, 1, *CONVERSATION)
    refer = triggers(people, 1)["refer"]
    assert not refer["possible"]
    assert refer["reason"].endswith("(rule consent)")
    assert "share:<partner>" in refer["reason"]
    out = people.ok("case", "triggers", "1", env={"COLUMNS": "200"}).output
    assert f"cannot refer: {refer['reason']}" in out
    line = error_line(people, "case", "advance", "1", "refer", "--set", "partner=wij_team")
    assert line.endswith("(rule consent)") and "share:wij_team" in line


def test_triggers_offer_refer_once_consent_to_share_is_recorded(people: Env) -> None:
    advance(people, 1, *INVITE)
    advance(people, 1, *CONVERSATION)
    people.ok("consent", "grant", "1", "share:wij_team", "--how", "phone")
    refer = triggers(people, 1)["refer"]
    assert (refer["possible"], refer["reason"], refer["needs"]) == (True, None, ["partner"])


def test_triggers_without_a_rule_block_give_the_route_reason(people: Env) -> None:
    refer = triggers(people, 1)["refer"]
    assert refer["reason"] == ("'refer' is not possible from state 'selected' (only from: "
                               "spoken, active, referred, follow_up)")


# --- a rule of one's own: every hook ----------------------------------------------------------


class CoachApproval:
    """A rule written here: self_action needs a coach, a person named Uitgesloten is kept out,
    letters get a greeting, and a conversation is marked as checked."""

    NAME = "coach_approval"
    REASON = "going it alone needs a coach's approval first"

    @hookimpl
    def check_transition(self, transition: Any) -> list[Block]:
        if transition.trigger == "self_action":
            return [Block(self.NAME, self.REASON)]
        return []

    @hookimpl
    def exclude_participant(self, participant: Mapping[str, Any], today: date) -> str | None:
        assert isinstance(today, date)
        return "asked_not_to" if participant.get("surname") == "Uitgesloten" else None

    @hookimpl
    def letter_variables(self, template: str) -> dict[str, Any]:
        return {"greeting": f"Beste ({template})"}

    @hookimpl
    def after_transition(self, step: Any) -> None:
        if step.trigger == "hold_conversation":
            step.case_data["checked"] = True
            step.data["checked"] = True


@pytest.fixture
def own_rule(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The environment with CoachApproval installed, and Kansen in Kaart naming it."""
    original = casework.rules.get_plugin_manager

    def with_own_rule() -> Any:
        pm = original()
        pm.register(CoachApproval(), name=CoachApproval.NAME)
        return pm

    monkeypatch.setattr(casework.rules, "get_plugin_manager", with_own_rule)
    configure(env, kansen_in_kaart(env.root / "workflows",
                                   FOUR.replace("]", ', "coach_approval"]')))
    yield env


def test_a_route_may_name_a_rule_once_it_is_installed(own_rule: Env) -> None:
    assert "coach_approval" in Rules().names
    assert own_rule.json("workflow", "show", WORKFLOW)["rules"][-1] == "coach_approval"


def test_a_rule_blocks_a_step_and_triggers_and_advance_say_the_same(own_rule: Env) -> None:
    import_people(own_rule, "Mulder")
    advance(own_rule, 1, *INVITE)
    advance(own_rule, 1, *CONVERSATION)
    self_action = triggers(own_rule, 1)["self_action"]
    assert self_action["possible"] is False
    assert self_action["reason"] == f"{CoachApproval.REASON} (rule coach_approval)"
    line = error_line(own_rule, "case", "advance", "1", "self_action")
    assert line == f"Error: {self_action['reason']}"
    assert own_rule.json("case", "show", "1")["state"] == "spoken"


def test_a_rule_excludes_a_person_at_import(own_rule: Env) -> None:
    path = own_rule.root / "two.csv"
    path.write_text(f"{HEADER}\n730000011,A.,,Mulder,Laan,1,,9712 AB,Groningen,Beijum,,,no,\n"
                    "730000023,B.,,Uitgesloten,Laan,2,,9712 AB,Groningen,Beijum,,,no,\n",
                    encoding="utf-8")
    summary = own_rule.json("cohort", "import", str(path), "--workflow", WORKFLOW)
    assert summary["excluded_by_reason"] == {"asked_not_to": 1}
    plan = own_rule.json("cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Beijum",
                         "--from", "2099-01-05", "--specialists", "1")
    assert [inv["case_id"] for inv in plan["invitations"]] == [1]


def test_a_rule_reacts_after_a_step_in_its_transaction(own_rule: Env) -> None:
    import_people(own_rule, "Mulder")
    advance(own_rule, 1, *INVITE)
    advance(own_rule, 1, *CONVERSATION)
    case = own_rule.json("case", "show", "1")
    assert case["data"]["checked"] is True
    assert case["timeline"][-1]["data"]["checked"] is True


def test_a_rule_adds_letter_variables_next_to_the_built_in_ones(own_rule: Env) -> None:
    engine = own_rule.engine()
    try:
        route = engine.registry.get(WORKFLOW)
        assert engine.rules.letter_variables(route, {}, "uitnodiging", engine.settings) == {
            "variant": "with_sentence", "voluntary_sentence": True,
            "greeting": "Beste (uitnodiging)"}
    finally:
        engine.db.dispose()


def test_switching_an_installed_rule_off_stops_it(own_rule: Env) -> None:
    folder = own_rule.root / "workflows"
    configure(own_rule, folder, '\n[rules]\ndisabled = ["coach_approval"]\n')
    import_people(own_rule, "Mulder")
    advance(own_rule, 1, *INVITE)
    advance(own_rule, 1, *CONVERSATION)
    assert "checked" not in own_rule.json("case", "show", "1")["data"]
    advance(own_rule, 1, "self_action")
    assert own_rule.json("case", "show", "1")["state"] == "follow_up"


def test_without_the_rule_installed_the_route_naming_it_does_not_validate(env: Env) -> None:
    folder = kansen_in_kaart(env.root / "workflows", FOUR.replace("]", ', "coach_approval"]'))
    code, lines = validate(env, folder / "kansen_in_kaart.toml")
    assert code == 1
    assert "unknown rule 'coach_approval'" in lines[0]


class Counted:
    """A rule that says (transition_hooks) it has something to do only for conversations."""

    NAME = "counted"
    seen: ClassVar[list[tuple[str, str]]] = []

    @hookimpl
    def transition_hooks(self, transition: Any) -> list[str]:
        return (["check_transition", "after_transition"]
                if transition.trigger == "hold_conversation" else [])

    @hookimpl
    def check_transition(self, transition: Any) -> list[Block]:
        self.seen.append(("check", transition.trigger))
        return []

    @hookimpl
    def after_transition(self, step: Any) -> None:
        self.seen.append(("after", step.trigger))


class CountedAlways(Counted):
    """The same rule without transition_hooks: called for every step."""

    NAME = "counted_always"
    seen: ClassVar[list[tuple[str, str]]] = []
    transition_hooks = None  # type: ignore[assignment]


def test_a_rule_is_called_only_for_the_steps_it_says_it_needs(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk apply calls the step hooks of every line: a rule names the transitions it has
    something to do for, and is left out of the others (a rule that does not say: all)."""
    original = casework.rules.get_plugin_manager

    def with_counted() -> Any:
        pm = original()
        pm.register(Counted(), name=Counted.NAME)
        pm.register(CountedAlways(), name=CountedAlways.NAME)
        return pm

    monkeypatch.setattr(casework.rules, "get_plugin_manager", with_counted)
    monkeypatch.setattr(Counted, "seen", [])
    monkeypatch.setattr(CountedAlways, "seen", [])
    configure(env, kansen_in_kaart(env.root / "workflows",
                                   FOUR.replace("]", ', "counted", "counted_always"]')))
    import_people(env, "Mulder")
    advance(env, 1, *INVITE)
    advance(env, 1, *CONVERSATION)
    assert Counted.seen == [("check", "hold_conversation"), ("after", "hold_conversation")]
    assert CountedAlways.seen == [("check", "invite"), ("after", "invite"),
                                  ("check", "hold_conversation"),
                                  ("after", "hold_conversation")]
