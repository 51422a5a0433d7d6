"""Core statements run on SQLite's own cursor, compiled once: the hot path of one advance.

``conn.execute(stmt, params)`` spends more of its time in SQLAlchemy than SQLite spends on the
statement: a cache key per call, an execution context, a result object. For the few statements
every advance runs (load the case, append to the processing log) and for the writer's
executemany (``casework.bulkwrite``), the statement is compiled once per dialect, its values
bound with the column types' own processors and its rows read with their own result
processors, so what is stored and read is the same; the SQL goes straight to the driver's
cursor. Driver errors become SQLAlchemy's (IntegrityError, OperationalError, ...), without
their parameters, as ``hide_parameters`` makes them elsewhere.

Only on SQLite, and only for statements whose compiled form has no expanding (IN list) or
post-compile parameters; anything else is ``conn.execute`` as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

Processor = Callable[[Any], Any]


class Compiled:
    """A statement compiled for SQLite: its SQL, how to bind a row of parameters (the bind
    names in order, constants and processors) and how to read its result rows."""

    def __init__(self, sql: str, names: tuple[str, ...], constants: dict[int, Any],
                 processors: dict[int, Processor],
                 results: tuple[Processor | None, ...]) -> None:
        self.sql = sql
        self.names = names  # per position: the parameter's key ('' for a constant)
        self.constants = constants
        self.processors = processors
        # The result columns that have a processor, with it (most have none on SQLite).
        self.results = [(index, process) for index, process in enumerate(results)
                        if process is not None]

    def bind(self, params: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        constants, processors = self.constants, self.processors
        for position, name in enumerate(self.names):
            if not name:
                values.append(constants[position])
                continue
            value = params[name]
            process = processors.get(position)
            values.append(value if process is None else process(value))
        return tuple(values)

    def row(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self.results:
            return raw
        values = list(raw)
        for index, process in self.results:
            values[index] = process(values[index])
        return tuple(values)


_COMPILED: dict[ClauseElement, Compiled | None] = {}
COMPILED = 256  # statements are meant to be built once; if not, the dict does not grow


def compiled(conn: Connection, stmt: ClauseElement) -> Compiled | None:
    """Return stmt compiled for conn's SQLite database, or None when only SQLAlchemy can run
    it (another database, expanding parameters, defaults made in Python)."""
    if conn.dialect.name != "sqlite":
        return None
    found = _COMPILED.get(stmt, False)
    if found is False:
        if len(_COMPILED) >= COMPILED:
            _COMPILED.clear()
        found = _COMPILED[stmt] = _compile(conn, stmt)
    return found


def _compile(conn: Connection, stmt: ClauseElement) -> Compiled | None:
    dialect = conn.dialect
    done = stmt.compile(dialect=dialect)
    if (not done.positional or done.positiontup is None  # type: ignore[attr-defined]
            or done.literal_execute_params or done.post_compile_params  # type: ignore[attr-defined]
            or getattr(done, "insert_prefetch", None) or getattr(done, "update_prefetch", None)):
        return None
    from casework.bulkwrite import _is_json, _json_processor  # it imports this module

    names: list[str] = []
    constants: dict[int, Any] = {}
    processors: dict[int, Processor] = {}
    for position, name in enumerate(done.positiontup):  # type: ignore[attr-defined]
        bind = done.binds[name]  # type: ignore[attr-defined]
        processor = bind.type._cached_bind_processor(dialect)
        if processor is not None and _is_json(bind.type, dialect):
            processor = _json_processor(processor)  # what the column's own writes
        if bind.required:  # a parameter given with each call
            names.append(bind.key)
            if processor is not None:
                processors[position] = processor
        elif bind.callable is None:
            names.append("")
            constants[position] = processor(bind.value) if processor else bind.value
        else:
            return None
    results = tuple(column.type._cached_result_processor(dialect, None)
                    for column in done._result_columns)  # type: ignore[attr-defined]
    return Compiled(done.string, tuple(names), constants, processors, results)


def first(conn: Connection, stmt: ClauseElement, params: dict[str, Any]) -> Any:
    """Return the first row stmt gives (a tuple, or SQLAlchemy's Row off SQLite), or None."""
    plan = compiled(conn, stmt)
    if plan is None:
        return conn.execute(stmt, params).first()  # type: ignore[call-overload]
    raw = cursor_execute(conn, plan.sql, plan.bind(params)).fetchone()
    return None if raw is None else plan.row(raw)


def cursor_execute(conn: Connection, sql: str, params: tuple[Any, ...] | Sequence[Any],
                   many: bool = False) -> Any:
    """Run sql on the driver's cursor of conn (in conn's transaction, begun as
    ``conn.execute`` would begin it); return the cursor. A driver error is raised as
    SQLAlchemy's, without the parameters."""
    if not conn.in_transaction():
        conn.begin()  # as conn.execute autobegins: conn.commit() then commits this too
    # On SQLite the driver's connection is the DBAPI connection (a plain attribute; its
    # driver_connection is a chain of properties).
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error,
                                  hide_parameters=True, dialect=conn.dialect,
                                  ismulti=many) from exc
    return cursor
