"""Subject access (export) and retention (purge) through the CLI and the core."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Env, lift_exclusions
from helpers import bsn_of, query, set_person, staff
from sqlalchemy import select

from casework.models import AppliedLine
from casework.privacy import purge

CONVERSATION = ("--set", "classification=not_active", "--set", "participation_potential=self",
                "--set", "consent=record_report,share:coach_meedoen",
                "--set", "themes.health=rugklachten, loopt moeilijk",
                "--note", "Wil graag vrijwilligerswerk in de buurt")


@pytest.fixture
def people(cohort: Env) -> Env:
    """1 declined (with a letter rendered), 2 spoken and closed, 3 declined but open on
    another route, 4 spoken and referred (open)."""
    lift_exclusions(cohort)  # case 2 is in contact with the WIJ-team
    for case_id in (1, 2, 3, 4):
        cohort.ok("case", "advance", str(case_id), "invite", "--set",
                  "appointment=2099-01-05 10:00")
    for case_id in (2, 4):
        cohort.ok("case", "advance", str(case_id), "hold_conversation", *CONVERSATION)
    cohort.ok("case", "advance", "4", "refer", "--set", "partner=coach_meedoen")
    declines = cohort.root / "declines.csv"  # an apply file keeps the line it applied
    declines.write_text("case,trigger\n1,decline\n", encoding="utf-8")
    cohort.ok("case", "apply", str(declines))
    cohort.ok("case", "advance", "3", "decline")
    cohort.ok("case", "advance", "2", "close", "--set", "reason=no_support_needed")
    cohort.ok("case", "open", "--workflow", "participatiecoach", "--bsn", bsn_of(3),
              "--source", "self_report")
    cohort.ok("letters", "render")
    return cohort


def test_export_writes_everything_about_the_person_for_them_only(people: Env) -> None:
    out = people.root / "inzage.json"
    result = people.run("privacy", "export", "--bsn", bsn_of(4), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert bsn_of(4) not in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["person"]["bsn"] == bsn_of(4)
    assert [c["id"] for c in data["cases"]] == [4]
    assert [e["trigger"] for e in data["events"]][:4] == [
        "open", "invite", "hold_conversation", "refer"]
    talk = next(e for e in data["events"] if e["trigger"] == "hold_conversation")
    assert talk["note"] == "Wil graag vrijwilligerswerk in de buurt"
    assert {c["scope"] for c in data["consents"]} == {"record_report", "share:coach_meedoen"}
    assert [r["partner"] for r in data["referrals"]] == ["coach_meedoen"]
    assert {x["template"] for x in data["letters"]} >= {"uitnodiging", "verwijzing"}
    assert data["tasks"] and data["appointments"]
    assert "advance" in {e["action"] for e in data["processing_log"]}
    # The export is in the processing log itself.
    assert people.json("audit", "--case", "4")[-1]["action"] == "export"


def test_export_of_someone_unknown_or_a_wrong_number(people: Env) -> None:
    out = people.root / "x.json"
    unknown = people.run("privacy", "export", "--bsn", "111222333", "--out", str(out))
    assert unknown.exit_code == 1 and "no person with that BSN" in unknown.stderr
    wrong = people.run("privacy", "export", "--bsn", "123456789", "--out", str(out))
    assert wrong.exit_code == 1 and "123456789" not in wrong.output
    folder = people.run("privacy", "export", "--bsn", bsn_of(4), "--out",
                        str(people.root / "nope" / "x.json"))
    assert folder.exit_code == 1 and "does not exist" in folder.stderr
    assert not out.exists()


def later(months: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=31 * months)


def with_retention(env: Env) -> None:
    config = env.config.read_text(encoding="utf-8")
    env.config.write_text(config + '\n[retention.kansen-in-kaart]\ndeclined = "P1Y"\n'
                          'default = "P2Y"\n', encoding="utf-8")


def shown(env: Env, case_id: int) -> Any:
    return env.json("case", "show", str(case_id))


def test_purge_anonymises_people_once_all_their_cases_are_past_retention(people: Env) -> None:
    nothing = people.json("privacy", "purge", "--dry-run")
    assert nothing["people"] == 0
    assert nothing["no_retention_period"] == {"kansen-in-kaart": 2}  # 3 has an open case
    with_retention(people)
    people.ok("audit", "seal")
    before = json.loads(people.run("report", "outcomes", "--workflow", "kansen-in-kaart",
                                   "--format", "json").stdout)
    [letter] = [x for x in people.json("letters", "list", "--case", "1")["letters"] if x["file"]]
    letter_file = letter["file"]
    [batch] = [b for b in people.json("letters", "batch", "list")["batches"]
               if b["batch"] == letter["batch"]]
    out = Path(letter_file).parent
    batch_files = [out / batch["pdf"], out / batch["manifest"]]
    assert all(path.is_file() for path in batch_files)
    assert query(people, select(AppliedLine.case_id)) == [(1,)]
    # Thirteen months on: only person 1 (declined, one year) is due; 3 has an open case.
    engine = people.engine(clock=lambda: later(13))
    try:
        result = purge(engine, staff(engine, "anna"))
    finally:
        engine.db.dispose()
    assert (result["people"], result["cases"]) == (1, 1)
    assert result["letters_deleted"] >= 1
    # The mail-house batch holding the letter goes too (its row stays), and so does the applied
    # line of the apply file (a hash of what the line said).
    assert result["batch_files_deleted"] == 2
    assert not any(path.exists() for path in batch_files)
    assert people.json("letters", "batch", "list")["batches"]
    assert query(people, select(AppliedLine.case_id)) == []
    one = shown(people, 1)
    assert one["person"]["name"] == "(verwijderd)" and one["person"]["phone"] is None
    assert one["person"]["bsn_masked"] != shown(people, 4)["person"]["bsn_masked"]
    assert one["timeline"][-1]["trigger"] == "purge"
    assert not Path(letter_file).exists()
    assert shown(people, 3)["person"]["name"] != "(verwijderd)"
    assert shown(people, 2)["person"]["name"] != "(verwijderd)"
    # Twenty-five months on: person 2 too; the notes go, the counts stay.
    engine = people.engine(clock=lambda: later(25))
    try:
        assert purge(engine, staff(engine, "anna"))["people"] == 1
    finally:
        engine.db.dispose()
    two = shown(people, 2)
    assert "themes" not in two["data"]
    talk = next(e for e in two["timeline"] if e["trigger"] == "hold_conversation")
    assert talk["note"] is None and "themes" not in talk["data"]
    assert talk["data"]["classification"] == "not_active"
    after = json.loads(people.run("report", "outcomes", "--workflow", "kansen-in-kaart",
                                  "--format", "json").stdout)
    assert {k: after[k] for k in ("approached", "spoken", "not_active")} == {
        k: before[k] for k in ("approached", "spoken", "not_active")}
    # The sealed history still checks out: purged events keep their hash, marked redacted.
    verified = people.json("audit", "verify")
    assert verified["ok"] and verified["events"]["redacted"] >= 1
    assert {e["action"] for e in people.json("audit", "--case", "2")} >= {"purge"}
    with pytest.raises(AssertionError):
        people.json("privacy", "export", "--bsn", bsn_of(2), "--out",
                    str(people.root / "gone.json"))


def test_a_bad_retention_period_names_the_setting(people: Env) -> None:
    config = people.config.read_text(encoding="utf-8")
    people.config.write_text(config + '\n[retention.kansen-in-kaart]\ndeclined = "een jaar"\n',
                             encoding="utf-8")
    result = people.run("privacy", "purge", "--dry-run")
    assert result.exit_code == 1
    assert "retention.kansen-in-kaart.declined" in result.stderr


def file_bytes(path: Path) -> bytes:
    """An SQLite database's bytes with its write-ahead log's (the pages it has not copied back)."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal"))
                    if p.exists())


@pytest.mark.backends("sqlite")  # a PostgreSQL database is not a file
def test_a_purged_name_leaves_no_bytes_in_the_sqlite_file_nor_in_the_name_index(
        cohort: Env) -> None:
    """SQLite keeps a changed row's old bytes in the page's free space (and whole pages in
    the free list and the write-ahead log) unless secure_delete is on (many builds have it
    off; Debian's has it on): the purge's blanked BSN, name and address must be gone from the
    file itself, the FTS5 name index included."""
    name, street = "Zqxjvoort-Quimbledon", "Wrobbelpadstraat"
    set_person(cohort, 5, surname=name, initials="Q.X.", street=street)
    assert [c["id"] for c in cohort.json("person", "find", "Zqxjvoort")["cases"]] == [5]
    cohort.ok("case", "advance", "5", "decline")
    cohort.ok("letters", "render")  # the confirmation's address block holds the name
    path = Path(cohort.database_url[len("sqlite:///"):])
    secrets = [bsn_of(5), name, street, "Zqxjvoort", "Quimbledon", "Wrobbelpad"]
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert all(text.encode() in file_bytes(path) for text in secrets)  # the right place
    with_retention(cohort)
    engine = cohort.engine(clock=lambda: later(13))
    try:
        summary = purge(engine, staff(engine, "anna"))
    finally:
        engine.db.dispose()
    assert summary["people"] == 1 and summary["wal_truncated"] is True
    cohort.close()
    stored = file_bytes(path)
    left = [n for n, text in enumerate(secrets)  # by number: no BSN in a failure's text
            if any(form.encode() in stored for form in (text, text.lower(), text.upper()))]
    assert left == []
    with sqlite3.connect(path) as conn:  # the index's own terms: none of the name's trigrams
        conn.execute("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, "
                     "participant_names, row)")
        terms = {row[0] for row in conn.execute("SELECT term FROM temp.terms")}
    assert not {"zqx", "qxj", "xjv"} & terms  # trigrams only this name has
