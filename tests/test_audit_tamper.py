"""Someone with access to the database edits it directly: `audit verify` must notice, exit 1
and say what changed (the anchor file, the field-by-field event hashes, the key file)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import EXAMPLES, Env, tamper
from helpers import staff
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, delete, func, select, update

from casework.access import chain_hash, entry_content, entry_hash
from casework.models import AccessLog, Event, Seal


@pytest.fixture
def sealed(cohort: Env) -> Env:
    """Some reads and changes, the case history sealed by the daily run, one verify."""
    cohort.ok("case", "show", "1")
    cohort.ok("case", "advance", "1", "invite", "--set", "appointment=2099-01-05 10:00")
    cohort.ok("case", "advance", "1", "decline", "--note", "Wil niet, zegt de buurman")
    cohort.ok("case", "show", "2", user="bert")
    cohort.ok("daily")
    cohort.ok("audit", "verify")
    return cohort


def anchor_file(env: Env) -> bytes:
    return (env.root / "audit-anchor.log").read_bytes()


def broken(env: Env) -> str:
    result = env.run("audit", "verify")
    assert result.exit_code == 1, result.output
    return result.stdout


def log_entries(env: Env) -> int:
    return int(env.json("audit", "verify")["access_log"]["entries"])


def test_an_untouched_database_stays_intact_and_the_anchor_file_only_grows(
        sealed: Env) -> None:
    path = sealed.root / "audit-anchor.log"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = anchor_file(sealed)
    ok = sealed.ok("audit", "verify")
    assert "intact" in ok.stdout and "BROKEN" not in ok.stdout
    assert f"anchor file {path}" in ok.stdout and "appended" in ok.stdout
    sealed.ok("case", "show", "3")
    sealed.ok("audit", "seal")
    after = anchor_file(sealed)
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sealed.json("audit", "verify")["anchor"]["records"] == after.count(b"\n")


def test_emptying_the_processing_log_is_found(sealed: Env) -> None:
    entries = log_entries(sealed)
    tamper(sealed, delete(AccessLog))
    out = broken(sealed)
    assert (f"the processing log has 0 entries but the anchor file recorded {entries} on "
            in out) and "entries were removed" in out


def test_removing_the_newest_entries_is_found_even_when_new_ones_follow(sealed: Env) -> None:
    sealed.ok("case", "show", "3")
    sealed.ok("case", "show", "4")
    last = sealed.json("audit", "verify")["access_log"]["last_id"]
    tamper(sealed, delete(AccessLog).where(AccessLog.id > last - 2))
    out = broken(sealed)
    assert f"processing log has {log_entries_left(sealed)} entries" in out
    assert "entries were removed" in out
    # New entries take the removed numbers (SQLite) or follow them: still found.
    sealed.ok("case", "show", "5")
    sealed.ok("case", "show", "6")
    sealed.ok("case", "show", "7")
    out = broken(sealed)
    assert f"entry {last}" in out and "anchor file" in out


def log_entries_left(env: Env) -> int:
    engine = env.engine()
    try:
        with engine.db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(AccessLog)).scalar_one())
    finally:
        engine.db.dispose()


def test_removing_the_seal_and_editing_a_sealed_event_is_found(sealed: Env) -> None:
    tamper(sealed, delete(Seal),
           update(Event).where(Event.case_id == 1, Event.seq == 3).values(note="anders"))
    out = broken(sealed)
    assert "the seal record is missing but the anchor file recorded" in out
    assert "the seal was removed" in out
    # Without the anchor file the events' own hashes still show the seal was removed.
    (sealed.root / "audit-anchor.log").unlink()
    out = broken(sealed)
    assert "carries a seal hash but lies beyond the seal" in out


def test_marking_a_sealed_event_redacted_hides_no_other_edit(sealed: Env) -> None:
    tamper(sealed, update(Event).where(Event.case_id == 1, Event.seq == 3).values(
        redacted_at=datetime.now(UTC), note=None, to_state="spoken", actor="mallory"))
    out = broken(sealed)
    assert "event" in out and "(case 1, step 3) was changed" in out


def test_a_purge_keeps_everything_but_the_personal_fields_checkable(sealed: Env) -> None:
    from casework.privacy import purge

    config = sealed.config.read_text(encoding="utf-8")
    sealed.config.write_text(config + '\n[retention.kansen-in-kaart]\ndefault = "P1Y"\n',
                             encoding="utf-8")
    engine = sealed.engine(clock=lambda: datetime.now(UTC) + timedelta(days=400))
    try:
        assert purge(engine, staff(engine, "anna"))["people"] == 1
    finally:
        engine.db.dispose()
    sealed.ok("audit", "seal")
    result = sealed.json("audit", "verify")
    assert result["ok"] and result["events"]["redacted"] >= 1
    shown = sealed.json("case", "show", "1")
    decline = next(e for e in shown["timeline"] if e["trigger"] == "decline")
    assert decline["note"] is None
    # The redacted event's other fields are still covered by its hash.
    tamper(sealed, update(Event).where(Event.case_id == 1, Event.seq == 3)
           .values(actor="mallory"))
    assert "(case 1, step 3) was changed" in broken(sealed)
    tamper(sealed, update(Event).where(Event.case_id == 1, Event.seq == 3)
           .values(actor="anna", note="een andere tekst"))
    assert "(case 1, step 3) was changed" in broken(sealed)


def test_an_edited_or_shortened_anchor_file_is_found(sealed: Env) -> None:
    path = sealed.root / "audit-anchor.log"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")
    assert "truncated or replaced" in broken(sealed)
    path.write_text("".join(lines[:-1]) + "{not a record\n", encoding="utf-8")
    assert f"line {len(lines)}: not a record casework wrote" in broken(sealed)


def test_a_removed_anchor_file_is_found_and_not_silently_made_again(sealed: Env) -> None:
    path = sealed.root / "audit-anchor.log"
    path.unlink()
    assert f"anchor file {path} is missing, but" in broken(sealed)
    seal = sealed.run("audit", "seal")
    assert seal.exit_code == 1 and "--new-anchor" in seal.stderr and not path.exists()
    started = sealed.ok("audit", "seal", "--new-anchor")
    assert "started anchor file" in started.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed.ok("audit", "verify")


def test_a_database_without_an_anchor_file_yet_gets_a_warning_and_one(cohort: Env) -> None:
    cohort.ok("case", "show", "1")
    path = cohort.root / "audit-anchor.log"
    assert not path.exists()
    result = cohort.ok("audit", "verify")
    assert f"warning: no anchor file yet at {path}" in result.stdout
    assert path.exists() and "warning" not in cohort.ok("audit", "verify").stdout


def with_key(env: Env) -> None:
    key = env.root / "audit.key"
    key.write_text("0123456789abcdef0123456789abcdef\n", encoding="utf-8")
    config = env.config.read_text(encoding="utf-8")
    env.config.write_text(config + '\n[audit]\nkey_file = "audit.key"\n', encoding="utf-8")


def rechain_without_key(env: Env) -> None:
    """Change an entry and recompute the whole chain with plain SHA-256, the way someone
    who has the code but not the key would; remove the anchor record of the database too."""
    engine = env.engine()
    try:
        with engine.db.begin() as conn:
            conn.execute(update(AccessLog).where(AccessLog.id == 2).values(actor="mallory"))
            prev = None
            params = []
            for row in conn.execute(select(AccessLog).order_by(AccessLog.id)):
                digest = chain_hash(prev, entry_content(row.id, row.at, row.actor, row.action,
                                                        row.case_ids, row.purpose))
                params.append({"b_id": row.id, "b_prev": prev, "b_hash": digest})
                prev = digest
            conn.execute(update(AccessLog).where(AccessLog.id == bindparam("b_id"))
                         .values(prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")),
                         params)
            conn.execute(delete(Seal).where(Seal.name == "anchor"))
    finally:
        engine.db.dispose()


def test_a_rechained_log_fails_with_a_key_file(env: Env) -> None:
    with_key(env)
    env.ok("cohort", "import", str(EXAMPLES / "cohort.csv"),
           "--workflow", "kansen-in-kaart")
    env.ok("case", "show", "1")
    env.ok("case", "show", "2")
    result = env.json("audit", "verify")
    assert result["ok"] and result["keyed"]
    rechain_without_key(env)
    (env.root / "audit-anchor.log").unlink()  # and the anchor file is gone as well
    out = broken(env)
    assert "entry 1 was changed (or hashed without the key in [audit] key_file)" in out


def test_an_unreadable_key_file_is_one_line_naming_it(env: Env) -> None:
    config = env.config.read_text(encoding="utf-8")
    env.config.write_text(config + '\n[audit]\nkey_file = "missing.key"\n', encoding="utf-8")
    result = env.run("audit", "verify")
    assert result.exit_code == 1 and "Traceback" not in result.output
    message = result.stderr.strip()
    assert "\n" not in message and str(env.root / "missing.key") in message
    assert "cannot be read" in message


def as_before_0012(env: Env, change_event: int | None = None) -> None:
    """Take the database back to schema 0011 with its events sealed the old way (one hash
    over the whole content), as a database of the previous version looks; optionally with
    one sealed event changed afterwards."""
    import importlib.util

    from alembic import command

    from casework.db import _alembic_config

    spec = importlib.util.spec_from_file_location("m0012", MIGRATION)
    assert spec and spec.loader
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    engine = env.engine()
    try:
        command.downgrade(_alembic_config(engine.db), "0011")
        with engine.db.begin() as conn:
            prev = None
            for row in conn.execute(select(old.events).order_by(old.events.c.id)).all():
                if row.hash is None:
                    break
                prev = old._digest({"prev": prev, **old._old_event(row)}, None)
                conn.execute(update(old.events).where(old.events.c.id == row.id)
                             .values(hash=prev))
            conn.execute(update(old.seals).where(old.seals.c.name == "events")
                         .values(last_hash=prev))
            conn.execute(delete(old.seals).where(old.seals.c.name == "anchor"))
            if change_event is not None:
                conn.execute(update(old.events).where(old.events.c.id == change_event)
                             .values(reason="changed"))
    finally:
        engine.db.dispose()
    (env.root / "audit-anchor.log").unlink()


MIGRATION = (Path(__file__).resolve().parent.parent / "casework" / "migrations" / "versions"
             / "0012_events_hashed_field_by_field.py")


def test_migration_0012_reseals_an_intact_old_chain(sealed: Env) -> None:
    as_before_0012(sealed)
    from casework.db import head_revision

    assert (f"Upgraded database from schema 0011 to {head_revision()}"
            in sealed.ok("db", "upgrade").stdout)
    result = sealed.json("audit", "verify")
    assert result["ok"] and result["events"]["sealed"] > 200


def test_migration_0012_keeps_an_old_break_visible(sealed: Env) -> None:
    as_before_0012(sealed, change_event=5)
    sealed.ok("db", "upgrade")
    assert "event 5 (case" in broken(sealed)


def test_the_daily_run_seals_and_anchors_and_fails_when_the_anchor_file_is_gone(
        sealed: Env) -> None:
    before = anchor_file(sealed)
    sealed.ok("case", "show", "3")
    sealed.ok("daily")
    assert anchor_file(sealed).startswith(before) and len(anchor_file(sealed)) > len(before)
    (sealed.root / "audit-anchor.log").unlink()
    result = sealed.run("daily", "--json")
    assert result.exit_code == 1
    import json

    summary = json.loads(result.stdout)
    assert summary["status"] == "failed" and "is missing, but" in summary["anchor_problem"]
    assert not (sealed.root / "audit-anchor.log").exists()


def test_a_key_added_later_takes_effect_through_rekey(sealed: Env) -> None:
    with_key(sealed)
    before = broken(sealed)  # the chains were made without the key
    assert "hashed without the key in [audit] key_file" in before
    result = sealed.json("audit", "rekey")
    assert result["keyed"] and result["entries"] > 0 and result["events"] > 200
    verified = sealed.json("audit", "verify")
    assert verified["ok"] and verified["keyed"]
    # Rekeying is not a way to launder a change: it checks with the old key first.
    rechain_without_key(sealed)
    refused = sealed.run("audit", "rekey", "--old-key-file", str(sealed.root / "audit.key"))
    assert refused.exit_code == 1 and "nothing was changed" in refused.stderr


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # any text, control
# characters, quotes, backslashes and non-ASCII among them


@settings(max_examples=300, deadline=None, derandomize=True)
@given(prev=st.none() | _TEXT, row_id=st.integers(1, 2**62), actor=_TEXT, action=_TEXT,
       case_ids=st.lists(st.integers(0, 2**62), max_size=5), purpose=st.none() | _TEXT,
       moment=st.datetimes(min_value=datetime(1, 1, 1), timezones=st.just(UTC)),
       key=st.none() | st.binary(min_size=16, max_size=32))
def test_an_entrys_hash_written_directly_is_the_canonical_one(
        prev: str | None, row_id: int, actor: str, action: str, case_ids: list[int],
        purpose: str | None, moment: datetime, key: bytes | None) -> None:
    # log_access writes the entry's canonical JSON itself; audit verify checks it with
    # chain_hash: they must agree byte for byte, or every new entry would show as changed.
    assert entry_hash(prev, row_id, moment, actor, action, case_ids, purpose, key) == (
        chain_hash(prev, entry_content(row_id, moment, actor, action, case_ids, purpose), key))
