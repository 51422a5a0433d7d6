"""The person corrects their conversation report: recorded as an event, the original kept,
the corrected report re-sent when asked."""

from __future__ import annotations

from conftest import Env, lift_exclusions
from pypdf import PdfReader

TALK = ("--set", "classification=not_active", "--set", "participation_potential=self",
        "--set", "consent=record_report",
        "--set", "themes.health=rugklachten, loopt moeilijk",
        "--set", "themes.social_network=weinig contact met familie")


def test_a_correction_keeps_the_original_and_resends_the_report(cohort: Env) -> None:
    cohort.ok("case", "advance", "1", "invite", "--set", "appointment=2099-01-05 10:00")
    cohort.ok("case", "advance", "1", "hold_conversation", *TALK)
    result = cohort.json("case", "correct", "1", "--set", "themes.health=knieklachten",
                         "--set", "themes.social_network=", "--note", "belde op 12 mei",
                         "--resend")
    assert result == {"case": 1, "corrected": ["health", "social_network"], "letter": "verslag"}
    shown = cohort.json("case", "show", "1")
    assert shown["data"]["themes"] == {"health": "knieklachten"}
    talk = next(e for e in shown["timeline"] if e["trigger"] == "hold_conversation")
    assert talk["data"]["themes"] == {"health": "rugklachten, loopt moeilijk",
                                      "social_network": "weinig contact met familie"}
    correction = shown["timeline"][-1]
    assert correction["trigger"] == "correct_report" and correction["note"] == "belde op 12 mei"
    assert correction["data"]["themes"] == {"health": "knieklachten", "social_network": ""}
    cohort.ok("letters", "render")
    [letter] = [x for x in cohort.json("letters", "list", "--case", "1")["letters"]
                if x["template"] == "verslag"]
    text = " ".join(page.extract_text() for page in PdfReader(letter["file"]).pages)
    assert "knieklachten" in text and "rugklachten" not in text
    assert "familie" not in text


def test_corrections_are_refused_with_a_reason(cohort: Env) -> None:
    lift_exclusions(cohort)  # case 2 is in contact with the WIJ-team
    cohort.ok("case", "advance", "2", "invite", "--set", "appointment=2099-01-05 10:00")
    none = cohort.run("case", "correct", "2", "--set", "themes.health=x")
    assert none.exit_code == 1 and "no conversation report to correct" in none.stderr
    cohort.ok("case", "advance", "2", "hold_conversation", *TALK)
    unknown = cohort.run("case", "correct", "2", "--set", "themes.hobby=x")
    assert unknown.exit_code == 1 and "no theme hobby" in unknown.stderr
    bad = cohort.run("case", "correct", "2", "--set", "health=x")
    assert bad.exit_code == 2 and "themes.KEY=TEXT" in bad.output
    assert [e["trigger"] for e in cohort.json("case", "show", "2")["timeline"]][-1] == (
        "hold_conversation")
