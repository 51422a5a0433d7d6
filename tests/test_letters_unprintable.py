"""A letter that can never be made as its data stands (a name with a character none of the
embedded fonts has, or a render that fails only for this case's data) is held after the first
try, with one task for a person on the case naming what to fix; the daily run does not fail on
it again, and the other letters of the run go out as usual. A template mistake still fails
every letter of that template (and the run), until the template is fixed."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import TEMPLATES, Env, lift_exclusions
from helpers import invite, open_tasks, pdfs_in, set_person, staff
from test_letters_lifecycle import listed, out_dir

from casework.letters import LetterRenderer, UnprintableText, Window
from casework.mailroom import preview


@pytest.fixture
def cohort(cohort: Env) -> Env:
    """The sample cohort with its exclusions lifted: the tests here invite whom they like
    (the exclusion rule is tested in test_exclusion.py)."""
    return lift_exclusions(cohort)


WINDOW = Window(20, 50, 85, 40)


@pytest.mark.parametrize(("text", "missing"), [
    ("Jansen 😀", "U+1F600"),       # emoji
    ("王 伟", "U+738B"),            # CJK
    ("Klingon \uf8d0", "U+F8D0"),   # private use (ConScript Klingon)
    ("Müller-Ståhlberg", None), ("Nguyễn", None), ("Ωμέγα", None), ("Иван", None),
    ("محمد", None), ("O'Brien \"#$\\", None),
])
def test_the_fonts_know_which_characters_they_cannot_print(text: str, missing: str | None
                                                           ) -> None:
    r = LetterRenderer(TEMPLATES, WINDOW, 3)
    found = r.unprintable(text)
    assert (f"U+{ord(found):04X}" if found else None) == missing


def kinds(env: Env, case_id: int) -> list[str]:
    return [t["label"] for t in open_tasks(env, case_id, "address_check")]


@pytest.mark.parametrize(("surname", "code"), [("Jansen 😀", "U+1F600 GRINNING FACE"),
                                              ("\uf8d0\uf8d1\uf8d2", "U+F8D0")])
def test_a_name_the_fonts_cannot_print_is_held_once_with_one_task_and_the_rest_go_out(
    cohort: Env, surname: str, code: str
) -> None:
    set_person(cohort, 2, surname=surname)
    invite(cohort, 1, 2, 3)

    result = cohort.run("daily", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    letters = summary["letters"]
    assert summary["status"] == "ok" and letters["failed"] == []
    assert letters["rendered"] == 2
    assert [b["letters"] for b in letters["batches"]] == [2]
    [held] = letters["held"]
    assert held["case_id"] == 2
    assert "the name" in held["reason"] and f"({code})" in held["reason"]
    assert surname not in result.output  # the character is named by its code, not printed
    [label] = kinds(cohort, 2)
    assert f"brief {held['letter']}" in label and "the name" in label
    assert {item["case_id"]: item["status"] for item in listed(cohort)} == {
        1: "in_batch", 2: "held", 3: "in_batch"}

    again = cohort.run("daily", "--json")
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)["letters"]
    assert (second["failed"], second["held"], second["rendered"]) == ([], [], 0)
    assert len(kinds(cohort, 2)) == 1
    assert len(pdfs_in(out_dir(cohort) / summary["run_date"] / "letters")) == 2


def test_once_the_name_is_corrected_finishing_the_task_makes_the_letter(cohort: Env) -> None:
    set_person(cohort, 1, surname="Jansen 😀")
    invite(cohort, 1)
    cohort.ok("letters", "render")
    [task] = open_tasks(cohort, 1, "address_check")

    set_person(cohort, 1, surname="Jansen")
    cohort.ok("task", "done", str(task["id"]), "--outcome", "done")
    made = cohort.json("letters", "render")
    assert (made["rendered"], made["held"], made["failed"]) == (1, [], [])


def test_a_render_that_fails_only_for_this_cases_data_is_held(cohort: Env) -> None:
    """A template that refuses long names: the letter of the person with the long name is
    held (a person must look), the template is not broken for everyone."""
    folder = cohort.root / "templates"
    shutil.copytree(TEMPLATES, folder)
    invitation = folder / "uitnodiging.typ.j2"
    invitation.write_text(invitation.read_text(encoding="utf-8").replace(
        "{% block body %}",
        '{% block body %}\n#if {{ salutation|code }}.len() > 30 { panic("naam te lang") }', 1),
        encoding="utf-8")
    cohort.config.write_text(cohort.config.read_text(encoding="utf-8").replace(
        TEMPLATES.as_posix(), folder.as_posix()), encoding="utf-8")
    set_person(cohort, 1, surname="Van Der Langenaam-Achterberg")
    invite(cohort, 1, 2)

    result = cohort.run("daily", "--json")
    assert result.exit_code == 0, result.output
    letters = json.loads(result.stdout)["letters"]
    assert (letters["rendered"], letters["failed"]) == (1, [])
    [held] = letters["held"]
    assert held["case_id"] == 1 and "this case's data" in held["reason"]
    assert len(open_tasks(cohort, 1, "address_check")) == 1
    again = json.loads(cohort.run("daily", "--json").stdout)["letters"]
    assert (again["held"], again["failed"]) == ([], [])


def test_a_preview_refuses_what_the_letter_would_print_as_empty_boxes(cohort: Env) -> None:
    set_person(cohort, 1, surname="Jansen 😀")
    engine = cohort.engine()
    try:
        r, ctx = preview(engine, staff(engine, "anna"), "uitnodiging", 1,
                         {"appointment": "2100-01-04T09:00:00+00:00"})
        with pytest.raises(UnprintableText, match=r"U\+1F600"):
            r.png("uitnodiging", ctx)
    finally:
        engine.db.dispose()


def test_without_the_check_before_render_typst_refuses_the_character_and_it_is_held(
    cohort: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PDF/A compile is the second line: it refuses a character no font has, and that
    failure is recognised as the letter's own too."""
    monkeypatch.setattr(LetterRenderer, "unprintable", lambda self, text: None)
    set_person(cohort, 1, surname="Jansen 😀")
    invite(cohort, 1, 2)
    made = cohort.json("letters", "render")
    assert (made["rendered"], made["failed"]) == (1, [])
    [held] = made["held"]
    assert held["case_id"] == 1 and "the name" in held["reason"] and "U+1F600" in held["reason"]


def test_a_task_finished_without_a_fix_holds_the_letter_again_with_a_new_task(
    cohort: Env
) -> None:
    set_person(cohort, 1, surname="Jansen 😀")
    invite(cohort, 1)
    cohort.ok("letters", "render")
    [task] = open_tasks(cohort, 1, "address_check")
    cohort.ok("task", "done", str(task["id"]), "--outcome", "done")

    again = cohort.json("letters", "render")
    assert (again["rendered"], again["failed"], len(again["held"])) == (0, [], 1)
    [second] = open_tasks(cohort, 1, "address_check")
    assert second["id"] != task["id"] and "U+1F600" in second["label"]
