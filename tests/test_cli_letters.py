"""`casework letters render|list|preview|check|calibrate`: the queue rendered to PDF once,
checked before printing, merged into mail-house batches with a manifest."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, TEMPLATES, Env, dated_today, lift_exclusions
from helpers import advance, invite, open_tasks, pdf_text, pdfs_in, render, set_person
from pypdf import PdfReader


@pytest.fixture
def cohort(cohort: Env) -> Env:
    """The sample cohort with its exclusions lifted: the tests here invite whom they like
    (the exclusion rule is tested in test_exclusion.py)."""
    return lift_exclusions(cohort)


APPOINTMENT = "2100-01-04 10:00"
INVITE = ("invite", "--set", f"appointment={APPOINTMENT}")
SUMMARY_KEYS = {"run_date", "rendered", "held", "failed", "batches", "output_dir", "renewed",
                "removed_files", "too_late", "flagged"}
BATCH_KEYS = {"batch", "letters", "pages", "sheets", "pdf", "manifest"}
MANIFEST_COLUMNS = [
    "letter_id", "case_reference", "template", "variant", "pages", "sheets",
    "address_1", "address_2", "address_3", "address_4", "address_5", "address_6", "address_7",
    "postcode", "checksum",
]
TEMPLATE_NAMES = ["afmelding", "afsluiting", "dienstencentrum_welkom", "herinnering",
                  "meedoen_kennismaking", "nabellen", "participatiecoach_intake", "uitnodiging",
                  "verslag", "verwijzing"]
WIDE = {"COLUMNS": "200"}


# --- helpers ----------------------------------------------------------------------------------


def set_option(env: Env, table: str, line: str) -> None:
    """Add `line` to [table] of the test's config.toml (the table is made when missing)."""
    text = env.config.read_text(encoding="utf-8")
    header = f"[{table}]\n"
    if header in text:
        text = text.replace(header, header + line + "\n", 1)
    else:
        text += f"\n{header}{line}\n"
    env.config.write_text(text, encoding="utf-8")


def use_templates(env: Env, folder: Path) -> None:
    """Point paths.templates of the test's config.toml at folder."""
    text = env.config.read_text(encoding="utf-8")
    changed, count = re.subn(r'^templates = ".*"$', f'templates = "{folder.as_posix()}"', text,
                             flags=re.MULTILINE)
    assert count == 1
    env.config.write_text(changed, encoding="utf-8")


def broken_templates(env: Env, template: str, change: tuple[str, str]) -> Path:
    """Copy the letter templates into the test folder, break one, and use the copy."""
    folder = env.root / "templates"
    shutil.copytree(TEMPLATES, folder)
    path = folder / f"{template}.typ.j2"
    text = path.read_text(encoding="utf-8")
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    use_templates(env, folder)
    return folder


def listed(env: Env, *args: str) -> list[dict[str, Any]]:
    return env.json("letters", "list", *args)["letters"]  # type: ignore[no-any-return]


def out_dir(env: Env) -> Path:
    return env.root / "letters-out"


def manifest(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def postcodes() -> dict[int, str]:
    """Case id -> postcode in the sample cohort (cases are made in the file's order)."""
    with (EXAMPLES / "cohort.csv").open(encoding="utf-8-sig", newline="") as fh:
        return {number: row["postcode"] for number, row in enumerate(csv.DictReader(fh), 1)}


# --- render: one PDF per letter, once ---------------------------------------------------------


def test_render_makes_one_pdf_per_queued_letter_with_pages_and_checksum(cohort: Env) -> None:
    invite(cohort, 1, 2, 3)
    summary = render(cohort)

    assert set(summary) == SUMMARY_KEYS
    assert summary["rendered"] == 3
    assert (summary["held"], summary["failed"]) == ([], [])
    assert summary["output_dir"] == str(out_dir(cohort))
    letters = listed(cohort)
    assert len(letters) == 3
    for letter in letters:
        path = out_dir(cohort) / letter["file"]
        assert letter["pages"] == len(PdfReader(path).pages) == 1
        assert letter["sheets"] == 1
        assert letter["checksum"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert letter["rendered_at"] is not None
        assert letter["status"] == "in_batch"  # rendered, then batched in the same run


def test_render_twice_renders_each_letter_once(cohort: Env) -> None:
    invite(cohort, 1, 2)
    render(cohort)
    before = {p: p.read_bytes() for p in pdfs_in(out_dir(cohort))}
    again = render(cohort)
    assert (again["rendered"], again["batches"]) == (0, [])
    assert {p: p.read_bytes() for p in pdfs_in(out_dir(cohort))} == before
    invite(cohort, 3)
    third = render(cohort)
    assert third["rendered"] == 1
    assert [b["letters"] for b in third["batches"]] == [1]


def test_render_writes_under_the_run_date_into_out_when_given(cohort: Env) -> None:
    invite(cohort, 1)
    elsewhere = cohort.root / "elders"
    summary = render(cohort, "--date", "2099-12-01", "--out", str(elsewhere))
    assert summary["run_date"] == "2099-12-01"
    assert summary["output_dir"] == str(elsewhere)
    [letter] = listed(cohort)
    # The letter's file is recorded with its full path, so a later render elsewhere finds it.
    assert Path(letter["file"]).is_file()
    assert Path(letter["file"]).parent == (elsewhere / "2099-12-01" / "letters").resolve()
    [batch] = summary["batches"]
    assert (elsewhere / batch["pdf"]).is_file() and (elsewhere / batch["manifest"]).is_file()
    assert pdfs_in(out_dir(cohort)) == []
    assert dated_today() in pdf_text(elsewhere / letter["file"])  # dated the day it is made


def test_render_summary_names_the_batches_and_what_to_do_next(cohort: Env) -> None:
    invite(cohort, 1, 2)
    out = cohort.ok("letters", "render", "--date", "2099-12-01", env=WIDE).stdout
    assert "Letters for 2099-12-01: rendered 2, held 0, failed 0" in out
    assert "batch 20991201-1: 2 letters, 2 sheets" in out
    assert "casework letters batch mark-sent BATCH" in out


def test_render_with_nothing_queued_makes_nothing(cohort: Env) -> None:
    summary = render(cohort)
    assert (summary["rendered"], summary["batches"], summary["held"]) == (0, [], [])
    assert pdfs_in(out_dir(cohort)) == []


# --- batches and manifests --------------------------------------------------------------------


def test_batches_hold_at_most_batch_size_letters_sorted_by_postcode(cohort: Env) -> None:
    set_option(cohort, "letters", "batch_size = 3")
    cases = [1, 2, 3, 4, 5, 6, 7]
    invite(cohort, *cases)
    summary = render(cohort, "--date", "2099-12-01")

    batches = summary["batches"]
    assert [b["letters"] for b in batches] == [3, 3, 1]
    assert all(set(b) == BATCH_KEYS for b in batches)
    codes = postcodes()
    case_of = {letter["id"]: letter["case_id"] for letter in listed(cohort)}
    seen: list[int] = []
    for batch in batches:
        rows = manifest(out_dir(cohort) / batch["manifest"])
        merged = PdfReader(out_dir(cohort) / batch["pdf"])
        assert len(merged.pages) == batch["pages"] == batch["sheets"] == len(rows)
        ids = [int(row["letter_id"]) for row in rows]
        in_order = [row["postcode"] for row in rows]
        assert in_order == sorted(in_order)
        assert in_order == [codes[case_of[letter_id]] for letter_id in ids]
        # the merged PDF has the letters in the manifest's order
        for page, row in zip(merged.pages, rows, strict=True):
            assert row["address_1"] in page.extract_text()
        seen.extend(ids)
    assert sorted(seen) == sorted(case_of)
    all_codes = [codes[c] for c in cases]
    assert [row["postcode"] for b in batches
            for row in manifest(out_dir(cohort) / b["manifest"])] == sorted(all_codes)


def test_manifest_is_semicolon_separated_with_the_address_and_checksum(cohort: Env) -> None:
    invite(cohort, 1)
    [batch] = render(cohort)["batches"]
    path = out_dir(cohort) / batch["manifest"]
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.split(";") == MANIFEST_COLUMNS
    [row] = manifest(path)
    [letter] = listed(cohort)
    assert row == {
        "letter_id": str(letter["id"]), "case_reference": "KIK-000001",
        "template": "uitnodiging", "variant": "with_sentence", "pages": "1", "sheets": "1",
        "address_1": "B. El Amrani", "address_2": "Jacob van Ruysdaelstraat 234",
        "address_3": "9713 BK  GRONINGEN", "address_4": "", "address_5": "", "address_6": "",
        "address_7": "", "postcode": "9713 BK", "checksum": letter["checksum"],
    }
    assert letter["batch"] == batch["batch"]


# --- checks before rendering ------------------------------------------------------------------


@pytest.mark.parametrize(("change", "reason"), [
    ({"street": '=HYPERLINK("http://x.example","klik")'}, "formula"),
    ({"street": "@SUM(A1)"}, "formula"),
    ({"city": ""}, "1234 AB  CITY"),
    ({"postcode": "9713BK"}, "1234 AB  CITY"),
])
def test_letter_with_a_bad_address_is_held_without_a_pdf_and_the_case_gets_a_task(
        cohort: Env, change: dict[str, str], reason: str) -> None:
    invite(cohort, 1, 2)
    set_person(cohort, 2, **change)
    summary = render(cohort)

    assert summary["rendered"] == 1
    [held] = summary["held"]
    assert (held["case_id"], held["template"]) == (2, "uitnodiging")
    assert reason in held["reason"]
    [letter] = listed(cohort, "--case", "2")
    assert (letter["status"], letter["file"], letter["reason"]) == ("held", None, held["reason"])
    assert not [p for p in pdfs_in(out_dir(cohort)) if p.name == f"{letter['id']}.pdf"]
    [task] = open_tasks(cohort, 2, "address_check")
    assert str(letter["id"]) in task["label"]
    assert [b["letters"] for b in summary["batches"]] == [1]  # the good letter still goes
    assert open_tasks(cohort, 1, "address_check") == []


def test_held_letter_is_named_in_the_summary_with_its_reason(cohort: Env) -> None:
    invite(cohort, 1)
    set_person(cohort, 1, city="")
    out = cohort.ok("letters", "render", env=WIDE).stdout
    assert "rendered 0, held 1, failed 0" in out
    assert "held letter 1 (uitnodiging, case 1)" in out
    assert "the case has a task to fix it" in out


def test_held_letter_is_not_rendered_by_the_next_run(cohort: Env) -> None:
    invite(cohort, 1)
    set_person(cohort, 1, city="")
    render(cohort)
    again = render(cohort)
    assert (again["rendered"], again["held"]) == (0, [])
    assert len(open_tasks(cohort, 1, "address_check")) == 1


def test_letter_longer_than_max_pages_is_held(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    long_note = " ".join(["Zij vertelt uitgebreid over haar dag en haar buurt."] * 700)
    advance(cohort, 1, "hold_conversation", "--set", "classification=work_potential",
            "--set", "participation_potential=supported", "--set", "consent=record_report",
            "--set", f"themes.health={long_note}")
    [task] = open_tasks(cohort, 1, "report_due")
    cohort.ok("task", "done", str(task["id"]), "--outcome", "done")
    summary = render(cohort)

    [held] = summary["held"]
    assert held["template"] == "verslag"
    assert "at most 4 may go out" in held["reason"]
    [report] = [item for item in listed(cohort) if item["template"] == "verslag"]
    assert (report["status"], report["file"]) == ("held", None)
    assert not [p for p in pdfs_in(out_dir(cohort)) if p.name == f"{report['id']}.pdf"]
    assert len(open_tasks(cohort, 1, "address_check")) == 1


def test_broken_template_fails_the_letter_naming_the_template_and_keeps_it_queued(
        cohort: Env) -> None:
    invite(cohort, 1)
    broken_templates(cohort, "uitnodiging", ("{{ location }}", "{{ meeting_place }}"))
    result = cohort.run("letters", "render", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    [failed] = summary["failed"]
    assert (failed["case_id"], failed["template"], failed["attempts"]) == (1, "uitnodiging", 1)
    assert "uitnodiging" in failed["reason"] and "meeting_place" in failed["reason"]
    [letter] = listed(cohort)
    assert (letter["status"], letter["file"]) == ("queued", None)
    assert pdfs_in(out_dir(cohort)) == []
    # fixed: the next run renders it
    use_templates(cohort, TEMPLATES)
    assert render(cohort)["rendered"] == 1


def test_failed_letter_is_named_in_red_in_the_text_summary(cohort: Env) -> None:
    invite(cohort, 1)
    broken_templates(cohort, "uitnodiging", ("{{ location }}", "{{ meeting_place }}"))
    result = cohort.run("letters", "render", env=WIDE)
    assert result.exit_code == 1
    assert "rendered 0, held 0, failed 1" in result.stdout
    assert "FAILED letter 1 (uitnodiging, case 1), attempt 1" in result.stdout


# --- list ---------------------------------------------------------------------------------------


def test_list_filters_by_case_and_status_newest_first(cohort: Env) -> None:
    invite(cohort, 1, 2)
    render(cohort)
    invite(cohort, 3)
    data = cohort.json("letters", "list")
    assert data["total"] == 3
    assert [item["id"] for item in data["letters"]] == [3, 2, 1]
    assert [item["case_id"] for item in listed(cohort, "--case", "2")] == [2]
    assert [item["id"] for item in listed(cohort, "--status", "queued")] == [3]
    assert [item["id"] for item in listed(cohort, "--status", "in_batch")] == [2, 1]
    assert listed(cohort, "--status", "sent") == []


def test_list_table_shows_template_status_and_reason(cohort: Env) -> None:
    invite(cohort, 1, 2)
    set_person(cohort, 2, city="")
    render(cohort)
    out = cohort.ok("letters", "list", env=WIDE).stdout
    assert "uitnodiging" in out and "in_batch" in out and "held" in out
    assert "1234 AB  CITY" in out
    assert "2 of 2 letter(s)" in out


# --- preview -------------------------------------------------------------------------------------


def test_preview_writes_the_letter_as_pdf_without_queueing_it(cohort: Env) -> None:
    invite(cohort, 1)
    target = cohort.root / "voorbeeld.pdf"
    out = cohort.ok("letters", "preview", "uitnodiging", "--case", "1",
                    "--out", str(target)).stdout
    assert f"Wrote {target}" in out
    text = pdf_text(target)
    assert "B. El Amrani" in text and "maandag 4 januari 2100 om 10.00 uur" in text
    assert "Meedoen is vrijwillig" in text
    assert len(listed(cohort)) == 1  # only the invitation the step queued
    assert pdfs_in(out_dir(cohort)) == []


def test_preview_png_is_an_image_of_page_one(cohort: Env) -> None:
    invite(cohort, 1)
    target = cohort.root / "voorbeeld.png"
    cohort.ok("letters", "preview", "uitnodiging", "--case", "1", "--png", "--out", str(target))
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert abs(height / width - 297 / 210) < 0.01  # an A4 page


def test_preview_of_an_unknown_template_is_a_clear_error(cohort: Env) -> None:
    result = cohort.run("letters", "preview", "kerstkaart", "--case", "1",
                        "--out", str(cohort.root / "x.pdf"))
    assert result.exit_code == 1
    assert "kerstkaart" in result.stderr and "not found" in result.stderr
    assert not (cohort.root / "x.pdf").exists()


def test_preview_with_a_value_missing_names_the_template(cohort: Env) -> None:
    """Case 1 was never referred, so a referral letter has no partner to name."""
    result = cohort.run("letters", "preview", "verwijzing", "--case", "1",
                        "--out", str(cohort.root / "x.pdf"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "verwijzing" in result.stderr, result.stderr
    assert not (cohort.root / "x.pdf").exists()


# --- check and calibrate -----------------------------------------------------------------------


def test_check_renders_every_template_and_variant_and_passes(env: Env) -> None:
    results = env.json("letters", "check")
    assert {(r["template"], r["variant"]) for r in results} == {
        (t, v) for t in TEMPLATE_NAMES for v in ("with_sentence", "without_sentence")}
    assert all(r["ok"] and r["error"] is None and r["pages"] >= 1 for r in results), results
    out = env.ok("letters", "check").stdout
    assert out.count("ok ") == len(results)


@pytest.mark.parametrize(("template", "change"), [
    ("verwijzing", ("{{ partner }}", "{{ partner_name }}")),  # a value the letter lacks
    ("herinnering", ("#block(", "#blok(")),  # Typst that does not compile
])
def test_check_fails_with_exit_1_naming_a_broken_template(
        env: Env, template: str, change: tuple[str, str]) -> None:
    broken_templates(env, template, change)
    result = env.run("letters", "check")
    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2  # both variants of the broken template
    assert all(template in line for line in failed)
    assert f"template {template}" in failed[0]
    passed = sum(line.startswith("ok") for line in result.stdout.splitlines())
    assert passed == 2 * (len(TEMPLATE_NAMES) - 1)


def test_calibrate_writes_one_page_with_the_configured_window(env: Env) -> None:
    set_option(env, "letters", "window_left_mm = 120")
    target = env.root / "kalibratie.pdf"
    out = env.ok("letters", "calibrate", "--out", str(target)).stdout
    assert f"Wrote {target}" in out
    reader = PdfReader(target)
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    assert "Venster: 120.0 mm van links, 50.0 mm van boven, 85.0 x 35.0 mm" in text
