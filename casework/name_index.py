"""The trigram index on people's names, for a name search that does not read every person.

A name search looks for its longest word anywhere in the initials, the prefix or the surname
(``LIKE '%word%'``), which no ordinary index serves. A trigram index does:

- SQLite: an FTS5 table with the trigram tokenizer over the three columns (``participant_names``,
  its content read from ``participants``), kept in step by triggers on ``participants`` (every
  insert, name change and delete, whoever makes it). A search takes the people whose names hold
  the word's trigrams in a row from it, and the search's own condition then decides exactly as
  before (the index only narrows; it folds case a little wider than SQLite's LIKE).
- PostgreSQL: ``pg_trgm`` GIN indexes on ``lower(initials)``, ``lower(prefix)`` and
  ``lower(surname)``, which the search's ``lower(column) LIKE '%word%'`` uses as it is. Where
  the extension cannot be created (a DBA may forbid it) the migration logs one warning and the
  search reads every person in scope, as before.

A word shorter than three characters has no trigram, and a word naming more than MOST people
is cheaper to check along the actor's scope: those searches go the old way. Made by migration
``0019_name_trigram_index``; ``forget_removed`` makes a purge leave no name behind. A later
migration that rebuilds ``participants`` on SQLite (Alembic's batch mode copies the table and
drops the old one, and its triggers with it) must ``drop`` and ``create`` the index again.
"""

from __future__ import annotations

import logging
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Boolean, literal_column, select, table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

TABLE = "participant_names"
COLUMNS = ("initials", "prefix", "surname")
TRIGGERS = ("participant_names_insert", "participant_names_delete", "participant_names_update")
PG_INDEXES = tuple(f"ix_participants_{column}_trgm" for column in COLUMNS)
SHORTEST = 3  # characters: a trigram
# People a word may name for the search to start from them: each costs about what two or three
# cases of the actor's scope cost when the search walks the scope (a case worker's wijk holds
# about 13,000 cases at 100,000).
MOST = 1_000

log = logging.getLogger(__name__)

_OLD = ", ".join(f"old.{c}" for c in COLUMNS)
_NEW = ", ".join(f"new.{c}" for c in COLUMNS)
_LIST = ", ".join(COLUMNS)
_SQLITE = (
    f"CREATE VIRTUAL TABLE {TABLE} USING fts5({_LIST}, content='participants', "
    "content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON participants BEGIN "
    f"INSERT INTO {TABLE}(rowid, {_LIST}) VALUES (new.id, {_NEW}); END",
    f"CREATE TRIGGER {TRIGGERS[1]} AFTER DELETE ON participants BEGIN "
    f"INSERT INTO {TABLE}({TABLE}, rowid, {_LIST}) VALUES ('delete', old.id, {_OLD}); END",
    f"CREATE TRIGGER {TRIGGERS[2]} AFTER UPDATE OF {_LIST} ON participants BEGIN "
    f"INSERT INTO {TABLE}({TABLE}, rowid, {_LIST}) VALUES ('delete', old.id, {_OLD}); "
    f"INSERT INTO {TABLE}(rowid, {_LIST}) VALUES (new.id, {_NEW}); END",
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",
)


def create(conn: Any) -> bool:
    """Make the index and fill it from the people stored (in the migration's transaction);
    return whether it was made. Never fails for want of FTS5 or pg_trgm: it logs why not."""
    if conn.dialect.name == "sqlite":
        savepoint = conn.begin_nested()
        try:
            for statement in _SQLITE:
                conn.exec_driver_sql(statement)
        except DBAPIError as exc:  # an SQLite built without FTS5 or its trigram tokenizer
            savepoint.rollback()
            log.warning("SQLite's FTS5 trigram tokenizer is not available (%s): a name search "
                        "reads every person in scope", exc)
            return False
        savepoint.commit()
        return True
    if conn.dialect.name != "postgresql":
        return False
    where = _trgm_schema(conn)
    if where is None:
        savepoint = conn.begin_nested()
        try:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
            savepoint.commit()
        except DBAPIError as exc:  # not allowed, not installed, or a race
            savepoint.rollback()
            if _trgm_schema(conn) is None:  # another session may just have made it
                log.warning(
                    "PostgreSQL's pg_trgm extension could not be created (%s): a name search "
                    "reads every person in scope; a superuser can run 'CREATE EXTENSION "
                    "pg_trgm SCHEMA public' and then 'casework db upgrade'",
                    str(exc.args[0] if exc.args else exc).splitlines()[0])
                return False
        where = _trgm_schema(conn)
    for column, name in zip(COLUMNS, PG_INDEXES, strict=True):
        conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS {name} ON participants USING gin '
                             f'(lower({column}) "{where}".gin_trgm_ops)')
    return True


def drop(conn: Any) -> None:
    """Remove the index (the migration's downgrade)."""
    _PRESENT.pop(conn.engine, None)
    if conn.dialect.name == "sqlite":
        for trigger in TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
    elif conn.dialect.name == "postgresql":
        for name in PG_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def ensure(engine: Any) -> bool:
    """Make the index where the migration could not (PostgreSQL: once the extension may be
    created); return whether it is there. For ``casework db upgrade`` on a current schema."""
    if engine.dialect.name != "postgresql":
        return True
    with engine.begin() as conn:
        made = {row[0] for row in conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'participants'"))}
        if set(PG_INDEXES) <= made:
            return True
        return create(conn)


def _trgm_schema(conn: Any) -> str | None:
    return conn.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'").scalar()


_FTS = table(TABLE, literal_column("rowid"))
_PRESENT: WeakKeyDictionary[Any, bool] = WeakKeyDictionary()


def people(conn: Any, word: str) -> list[int] | None:
    """Return the ids of at least every person with ``word`` in their initials, prefix or
    surname (case folded: a few more than the search's own condition keeps), through the
    trigram index; None where the index cannot narrow the search: a word under three
    characters, PostgreSQL (whose indexes serve the search's own condition), no index, or more
    than MOST people (walking the actor's scope is cheaper then)."""
    if len(word) < SHORTEST or conn.dialect.name != "sqlite" or not _has_table(conn):
        return None
    # One FTS5 string: a run of the word's trigrams in one column (its quotes doubled).
    phrase = '"' + word.replace('"', '""') + '"'
    found = conn.execute(select(_FTS.c.rowid).where(
        literal_column(TABLE).op("MATCH")(phrase)).limit(MOST + 1)).scalars().all()
    return None if len(found) > MOST else list(found)


def not_to_start_from(condition: Any) -> Any:
    """The same condition, which SQLite will not start a plan from (a unary ``+`` hides its
    columns from the planner): a search starts from the people ``people`` listed rather than
    from the actor's whole scope, which SQLite without statistics takes to be small."""
    return UnaryExpression(condition.self_group(), operator=custom_op("+"), type_=Boolean())


def _has_table(conn: Any) -> bool:
    engine = conn.engine
    present = _PRESENT.get(engine)
    if present is None:
        present = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            (TABLE,)).first() is not None
        _PRESENT[engine] = present
    return present


def forget_removed(conn: Any) -> None:
    """Rewrite the SQLite index without what was deleted from it. FTS5 records a deletion as
    a marker beside the old entry until segments merge: after a purge the anonymised names'
    trigrams would stay in the file. PostgreSQL's indexes drop them when the table is
    vacuumed, as the old rows themselves."""
    if conn.dialect.name == "sqlite" and _has_table(conn):
        conn.exec_driver_sql(f"INSERT INTO {TABLE}({TABLE}) VALUES ('optimize')")


def of_the_models(_object: Any, name: str | None, type_: str, _reflected: bool,
                  _compare_to: Any) -> bool:
    """Alembic's ``include_object``: False for what belongs to this index (made by hand, not
    from the models), so comparing the schema with the models leaves it out."""
    if name is None:
        return True
    if type_ == "table":
        return not (name == TABLE or name.startswith(TABLE + "_"))
    return not (type_ == "index" and name in PG_INDEXES)
