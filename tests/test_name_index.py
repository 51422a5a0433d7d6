"""The trigram index on people's names (casework.name_index, migration 0019): a name search
through it answers exactly as the search without it (the same cases, order, totals, scope and
processing-log entries), it follows every way a name is stored, changed and purged, and a
purge leaves no blanked name in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import EXAMPLES, Env
from helpers import set_person, staff
from sqlalchemy import event, select

from casework import name_index
from casework.models import AccessLog
from casework.person import find_cases
from casework.privacy import purge

# Names a search must treat as it always did: prefixes, initials, accents and case outside
# ASCII (which SQLite's LIKE compares exactly and PostgreSQL's lower() folds), LIKE's own
# wildcards and FTS5's quote as letters.
NAMES = {
    3: {"initials": "J.P.", "prefix": "van der", "surname": "Berg"},
    4: {"initials": "Ç.", "prefix": None, "surname": "Çelik"},
    5: {"initials": "A.", "prefix": None, "surname": "ÇELİK"},
    6: {"initials": "H.", "prefix": None, "surname": "Müller-Lüdenscheidt"},
    7: {"initials": "T.", "prefix": "'t", "surname": "Hart"},
    8: {"initials": "X.", "prefix": None, "surname": "50%_korting"},
    9: {"initials": "O.", "prefix": None, "surname": 'O"Brien'},
    10: {"initials": "É.", "prefix": "de la", "surname": "Fuente"},
}
QUERIES = [
    "van der Berg", "van der", "der", "berg", "BERG", "J.P.", "j.p. van", "jp", "J.P. van der "
    "Berg", "Çelik", "çelik", "ÇELIK", "ÇELİK", "celik", "elik", "Öztürk", "öztürk", "OZTURK",
    "üdensch", "müller-l", "'t hart", "t Hart", "50%_k", "%_", "%_korting", 'o"br', 'O"Brien',
    "de la fuente", "é. de la", "fuente é", "Bosch", "van den Bosch", "den bosch", "de", "el",
    "an", "El Amrani", "amrani", "sen", "jansen", "a. visser", "visser a", "Vries", "de vries",
    "xyz", "zzzz", "aa", "A.",
]


def searches(engine: Any, who: str, limit: int | None) -> list[Any]:
    """Each query's answer, and the processing-log entry it wrote (None when it wrote none)."""
    actor = staff(engine, who)
    answers = []
    for text in QUERIES:
        with engine.db.connect() as conn:
            last = conn.execute(select(AccessLog.id).order_by(AccessLog.id.desc())).scalar() or 0
        answer = find_cases(engine, actor, text, limit)
        with engine.db.connect() as conn:
            entry = conn.execute(select(AccessLog.actor, AccessLog.action, AccessLog.case_ids,
                                        AccessLog.purpose).where(AccessLog.id > last)).all()
        answers.append((text, answer, [tuple(e) for e in entry]))
    return answers


@pytest.mark.long
def test_a_search_through_the_index_answers_exactly_as_without_it(
        cohort: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    for case_id, values in NAMES.items():
        set_person(cohort, case_id, **values)
    cohort.ok("staff", "add", "kees", "--role", "case_worker", "--wijk", "Vinkhuizen")
    engine = cohort.engine()
    try:
        rounds = [("anna", 50), ("anna", None), ("anna", 3), ("kees", 50), ("kees", 2)]
        statements: list[str] = []
        event.listen(engine.db, "before_cursor_execute",
                     lambda _conn, _cursor, sql, *_rest: statements.append(sql))
        indexed = [searches(engine, who, limit) for who, limit in rounds]
        if engine.db.dialect.name == "sqlite":  # PostgreSQL: the same statements, indexed
            assert sum(" MATCH " in sql for sql in statements) == len(rounds) * sum(
                len(max(text.split(), key=len)) >= 3 for text in QUERIES)
        # A word that names more people than MOST walks the actor's scope instead.
        monkeypatch.setattr(name_index, "MOST", 2)
        walked = [searches(engine, who, limit) for who, limit in rounds]
        with engine.db.begin() as conn:
            name_index.drop(conn)
        plain = [searches(engine, who, limit) for who, limit in rounds]
    finally:
        engine.db.dispose()
    assert indexed == walked == plain
    answers = {text: answer for text, answer, _ in indexed[0]}
    # The searches found what they should, so the comparison compared something.
    assert [c["id"] for c in answers["van der Berg"]["cases"]] == [3]
    assert [c["id"] for c in answers["50%_k"]["cases"]] == [8]
    assert [c["id"] for c in answers['o"br']["cases"]] == [9]
    assert answers["%_"]["total"] == 1
    assert answers["jansen"]["total"] > 1 and answers["zzzz"]["total"] == 0
    assert {text for text, answer, entry in indexed[3] if entry} < set(QUERIES)  # kees: fewer


def test_the_index_follows_names_imported_opened_changed_and_purged(cohort: Env,
                                                                     tmp_path: Any) -> None:
    rows = (EXAMPLES / "cohort.csv").read_text(encoding="utf-8").splitlines()
    header, first = rows[0], rows[1].split(",")
    first[0], first[3] = "111111110", "Qwyxzvaar"  # a new BSN (valid check digit), a new name
    (tmp_path / "new.csv").write_text(header + "\n" + ",".join(first) + "\n", encoding="utf-8")
    cohort.ok("cohort", "import", str(tmp_path / "new.csv"), "--workflow", "participatiecoach")
    assert names_of(cohort, "qwyxzv") == ["B. Qwyxzvaar"]
    cohort.ok("case", "open", "--workflow", "participatiecoach", "--bsn", "111111122",
              "--surname", "Yzerbrandt", "--street", "Kerkstraat", "--house-number", "3",
              "--postcode", "9711 AB", "--city", "Groningen", "--wijk", "Vinkhuizen",
              "--source", "self_report")
    assert names_of(cohort, "zerbrand") == ["Yzerbrandt"]
    set_person(cohort, 12, surname="Pietersma-Qwyx")
    assert "Pietersma-Qwyx" in [n.split(" ", 1)[-1] for n in names_of(cohort, "qwyx")]
    set_person(cohort, 12, surname="Anders")
    assert names_of(cohort, "qwyx") == ["B. Qwyxzvaar"]

    # Purged: the person's names are blanked, and the index no longer holds them.
    cohort.ok("case", "advance", "5", "decline")
    set_person(cohort, 5, surname="Vrijlandt", prefix="van", initials="Q.")
    assert names_of(cohort, "vrijland") == ["Q. van Vrijlandt"]
    config = cohort.config.read_text(encoding="utf-8")
    cohort.config.write_text(config + '\n[retention.kansen-in-kaart]\ndeclined = "P1Y"\n',
                             encoding="utf-8")
    engine = cohort.engine(clock=lambda: datetime.now(UTC) + timedelta(days=400))
    try:
        assert purge(engine, staff(engine, "anna"))["people"] == 1
    finally:
        engine.db.dispose()
    assert names_of(cohort, "vrijland") == []
    if cohort.database_url.startswith("sqlite"):
        # Nothing of the old name is left in the index's pages: they are what an index made
        # anew from the names stored now holds (FTS5 keeps a deletion beside the entry it
        # deletes until its segments merge, which the purge makes happen).
        engine = cohort.engine()
        try:
            with engine.db.begin() as conn:
                after = index_pages(conn)
                conn.exec_driver_sql("INSERT INTO participant_names(participant_names) "
                                     "VALUES ('rebuild')")
                conn.exec_driver_sql("INSERT INTO participant_names(participant_names) "
                                     "VALUES ('optimize')")
                assert after == index_pages(conn)
        finally:
            engine.db.dispose()


def names_of(env: Env, text: str) -> list[str]:
    return [c["name"] for c in env.json("person", "find", text)["cases"]]


def index_pages(conn: Any) -> list[bytes]:
    """The FTS5 index's pages, without its structure record (id 10: segment numbers)."""
    return sorted(row[0] for row in conn.exec_driver_sql(
        "SELECT block FROM participant_names_data WHERE id != 10"))


@pytest.mark.backends("postgresql")
def test_postgresql_indexes_use_the_extension_in_public(cohort: Env) -> None:
    engine = cohort.engine()
    try:
        with engine.db.connect() as conn:
            made = dict(conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                "current_schema() AND tablename = 'participants'").all())
            schema = conn.exec_driver_sql(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON "
                "n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'").scalar()
    finally:
        engine.db.dispose()
    assert schema == "public"
    for name in name_index.PG_INDEXES:
        assert "public.gin_trgm_ops" in made[name]


@pytest.mark.backends("postgresql")
def test_db_upgrade_adds_indexes_a_refused_extension_left_out(cohort: Env) -> None:
    engine = cohort.engine()
    try:
        with engine.db.begin() as conn:
            name_index.drop(conn)
        assert "up to date" in cohort.ok("db", "upgrade").output
        with engine.db.connect() as conn:
            made = set(conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()").scalars())
    finally:
        engine.db.dispose()
    assert set(name_index.PG_INDEXES) <= made
