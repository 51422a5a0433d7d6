"""One ``executemany`` of many rows without SQLAlchemy's per-row parameter handling.

``conn.execute(stmt, rows)`` builds a parameter dict per row and runs each value through its
column type's bind processor; for the thousands of rows of a bulk apply's chunk that costs
more than SQLite's own work. ``write_many`` compiles the statement once per set of keys, binds
every value with the same processors (so what is stored is byte for byte the same) and hands
the DBAPI cursor plain tuples. It is used on SQLite; on other databases (PostgreSQL batches
inserts itself, "insertmanyvalues") and for statements it does not know how to bind it is
``conn.execute`` as before.

``write_many(..., together=True)`` inserts the rows with as few statements as SQLite binds
values at once (one ``INSERT ... VALUES (...), (...), ...`` per slice of rows): a table whose
trigger fills an FTS5 index (``participants``: the name index) then has the index's pending
terms written out once per statement, not once per row (SQLite opens a statement savepoint
per execution of the trigger's statement, and FTS5 flushes its pending terms at each one:
three quarters of a cohort import's database time went to that).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain, repeat
from json import JSONEncoder
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

from sqlalchemy import JSON, Connection, Date, Delete, Insert, Update
from sqlalchemy.types import TypeDecorator

from casework.direct import cursor_execute
from casework.models import UTCDateTime

Statement = Insert | Update | Delete
Processor = Callable[[Any], Any]


class _Plan:
    """A compiled statement: its SQL, the row keys in bind order, constants, processors."""

    def __init__(self, sql: str, keys: tuple[str, ...],
                 constants: dict[int, Any],
                 processors: list[tuple[int, Processor, bool | str]]):
        self.sql = sql
        self.keys = keys
        self.constants = constants
        self.processors = processors
        self.get = itemgetter(*keys) if keys else None
        # An INSERT's SQL up to its VALUES, and the group of one row's values: for
        # ``together``, with its statements by the number of rows they insert.
        head, found, group = sql.rpartition(" VALUES ")
        self.values = ((head + found, group) if found and sql.startswith("INSERT ")
                       and group.startswith("(") and group.endswith(")") else None)
        self.together: dict[int, str] = {}

    def bind_one(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """Return one row's values (what ``bind`` makes of a list of one, more cheaply)."""
        values = [row[key] for key in self.keys]
        for index, process, memo in self.processors:
            raw = values[index]
            if (memo is True or memo is _DAY) and raw is not None:  # a moment or a day
                done = _memo(memo)
                stored = done.get(raw)
                if stored is None:
                    stored = done[raw] = process(raw)
                values[index] = stored
            else:
                values[index] = process(raw)
        for index, constant in self.constants.items():
            values.insert(index, constant)
        return tuple(values)

    def bind(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        get = self.get
        if get is None or not rows:
            return [() for _ in rows]
        # Column by column: each processor runs over one list, and the rows are put
        # together once at the end (zip), rather than a list per row changed in place.
        if len(self.keys) == 1:
            columns: list[Any] = [list(map(get, rows))]
        else:
            columns = list(zip(*map(get, rows), strict=True))
        for index, process, memo in self.processors:
            columns[index] = _processed(columns[index], process, memo)
        for index, constant in self.constants.items():  # in position order
            columns.insert(index, repeat(constant, len(rows)))
        return list(zip(*columns, strict=True))


def _processed(column: Sequence[Any], process: Processor, memo: bool | str) -> list[Any]:
    """Return a column's values as the column type binds them."""
    if memo is _SHARED:  # one dict or list in many rows (a task's spec): made once
        # By id: every row (so every value) lives meanwhile. Two passes without a Python
        # step per row beyond the first: the distinct values, then each row's text.
        distinct = {id(raw): raw for raw in column}
        if len(distinct) == len(column):  # each row its own value (an event's data)
            return list(map(process, column))
        made = {key: process(raw) for key, raw in distinct.items()}
        return list(map(made.__getitem__, map(id, column)))
    if memo:  # a moment or day shared by many rows (a step's, the chunk's): made once
        done = _memo(memo)
        # The distinct moments are made first (a chunk has a handful: its now, its steps'),
        # then every row's is looked up without a Python step per row.
        for raw in set(column).difference(done):
            done[raw] = process(raw)
        return list(map(done.__getitem__, column))
    return list(map(process, column))


# Moments and days as SQLite stores them: equal moments (also in other time zones) store the
# same text, and a step's moment goes in several columns of several tables.
_SHARED = "shared"  # a JSON column: the same object in several rows is written once
_DAY = "day"  # a date column: a due day is shared by many rows
_MOMENTS: dict[Any, Any] = {}
_DAYS: dict[Any, Any] = {}
MOMENTS = 50_000
_PLANS: dict[tuple[Statement, str, tuple[str, ...]], _Plan | None] = {}


def _memo(memo: bool | str) -> dict[Any, Any]:
    """Return the moments (memo True) or days (_DAY) made so far, by value."""
    done = _DAYS if memo is _DAY else _MOMENTS
    if len(done) > MOMENTS:
        done.clear()
    return done


PLANS = 256


def write_many(conn: Connection, stmt: Statement,
               rows: Sequence[dict[str, Any]], together: bool = False) -> Any:
    """Run stmt once for every row (all rows have the same keys); return the result (its
    ``rowcount``: the rows changed). together (an INSERT): the rows go in with one statement
    per as many rows as SQLite binds values at once, in their order; what is stored is the
    same."""
    if conn.dialect.name != "sqlite" or not rows:
        return conn.execute(stmt, list(rows))
    key = (stmt, conn.dialect.name, tuple(rows[0]))
    plan = _PLANS.get(key, False)
    if plan is False:
        if len(_PLANS) >= PLANS:  # statements are meant to be built once; if not, no leak
            _PLANS.clear()
        plan = _PLANS[key] = _compile(conn, stmt, key[2])
    if plan is None:
        return conn.execute(stmt, list(rows))
    if len(rows) == 1:  # one advance writes one row per table
        return cursor_execute(conn, plan.sql, plan.bind_one(rows[0]))
    if together and plan.values is not None:
        return _insert_together(conn, plan, plan.bind(rows))
    return cursor_execute(conn, plan.sql, plan.bind(rows), many=True)


def _insert_together(conn: Connection, plan: _Plan, bound: list[tuple[Any, ...]]) -> Any:
    """Insert the bound rows with one multi-row VALUES statement per slice of as many rows as
    one statement may bind; return what says how many rows went in (``rowcount``)."""
    from sqlite3 import SQLITE_LIMIT_VARIABLE_NUMBER

    dbapi: Any = conn.connection.dbapi_connection
    most = max(1, dbapi.getlimit(SQLITE_LIMIT_VARIABLE_NUMBER) // max(len(bound[0]), 1))
    head, group = plan.values  # type: ignore[misc]
    inserted = 0
    for start in range(0, len(bound), most):
        part = bound[start:start + most]
        sql = plan.together.get(len(part))
        if sql is None:
            if len(plan.together) > 4:  # a full slice and the last one's size, per import
                plan.together.clear()
            sql = plan.together[len(part)] = head + ", ".join(repeat(group, len(part)))
        inserted += cursor_execute(conn, sql, list(chain.from_iterable(part))).rowcount
    return SimpleNamespace(rowcount=inserted)


def _compile(conn: Connection, stmt: Statement, keys: tuple[str, ...]) -> _Plan | None:
    """Return how to bind rows with these keys, or None when only SQLAlchemy can."""
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    if not compiled.positional or compiled.positiontup is None:
        return None
    binds = compiled.binds
    order: list[str] = []
    constants: dict[int, Any] = {}
    processors: list[tuple[int, Processor, bool | str]] = []
    prefetch = {column.key: column for column in compiled.insert_prefetch}
    if (compiled.update_prefetch or compiled.postfetch or compiled.returning
            or compiled.literal_execute_params or compiled.post_compile_params):
        return None
    for position, name in enumerate(compiled.positiontup):
        bind = binds[name]
        processor = bind.type._cached_bind_processor(dialect)
        memo: bool | str = (True if isinstance(bind.type, UTCDateTime)
                            else _DAY if isinstance(bind.type, Date) else False)
        if processor is not None and _is_json(bind.type, dialect):
            processor, memo = _json_processor(processor), _SHARED
        if name in keys:
            if processor is not None:
                processors.append((len(order), processor, memo))
            order.append(name)
            continue
        if name in prefetch:  # a column left out: its default, when it is a plain value
            default = prefetch[name].default
            if default is None or not default.is_scalar:
                return None
            value = default.arg
        elif bind.callable is None and not bind.required:
            value = bind.value
        else:
            return None
        constants[position] = processor(value) if processor else value
    # Constants are inserted in position order into the row's values, which are in the
    # order of the keys that remain: the indexes of the processors count the keys only.
    if set(order) != set(keys) or len(order) != len(keys):
        return None
    return _Plan(compiled.string, tuple(order), constants, processors)


def _is_json(type_: Any, dialect: Any) -> bool:
    """Whether a column type stores JSON as SQLAlchemy's JSON does (casework's JSONType is a
    TypeDecorator of it that changes no value)."""
    if isinstance(type_, TypeDecorator):
        if type(type_).process_bind_param is not TypeDecorator.process_bind_param:
            return False
        type_ = type_.load_dialect_impl(dialect)
    return isinstance(type_, JSON)


def _json_encoder() -> Any:
    """Return json.dumps's own C encoder, with json.dumps's defaults (ASCII, ', ' and ': ',
    NaN allowed, circular references refused), made once instead of once per value."""
    if c_make_encoder is None:
        return None
    return c_make_encoder({}, JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ",
                          False, False, True)


_SAMPLE = {"a": [1, 2.5, None, True], "b": {"c": "é ✓ \n"}, "d": "x"}


def _json_processor(original: Processor) -> Processor:
    """Return a processor storing a dict or list as the column's own does (json.dumps) at half
    the cost; anything else (None, SQL NULL) goes to the column's own. When the column's own
    does not write what json.dumps writes (a serializer configured on the engine), it is used
    as it is."""
    encoder = _json_encoder()
    if encoder is None or original(_SAMPLE) != "".join(encoder(_SAMPLE, 0)):
        return original
    made = [encoder]
    null = original(None)  # what the column stores for None (SQL NULL or 'null'): asked once

    def process(value: Any) -> Any:
        kind = type(value)
        if kind is dict or kind is list:
            try:
                return "".join(made[0](value, 0))
            except Exception:  # the column's own raises what it raises
                made[0] = _json_encoder()  # its memo of values being written may be left
        elif value is None:
            return null
        return original(value)

    return process
