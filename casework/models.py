"""The stored data: SQLAlchemy Core tables on one MetaData, with typed columns.

Each table is declared as a small class whose attributes are its columns, so ``Case.state``,
``Case.__table__`` and ``select(Case)`` (all its columns) work as in SQLAlchemy's ORM without
importing the ORM: casework reads and writes rows with Core only, and commands start faster.
Times are stored as UTC and come back as aware datetimes on every database.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.types import TypeDecorator


class _JSON(TypeDecorator[Any]):
    """JSON, as JSONB on PostgreSQL. The PostgreSQL dialect (a twentieth of a second to import)
    is imported only when a PostgreSQL database is used. ``None`` is stored as JSON null, as
    by JSON()."""

    impl = JSON
    cache_ok = True
    should_evaluate_none = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


JSONType = _JSON()


_STORED = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
_STORED_LENGTH = 26  # 2026-12-01 05:50:44.351289


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is needed")
        return value.astimezone(UTC).replace(tzinfo=None)

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, write the stored text at once (what process_bind_param and SQLite's
        DateTime do in two steps): a bulk apply binds several moments per line."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given where an aware one is needed")
            if value.utcoffset():
                value = value.astimezone(UTC)
            # What value.replace(tzinfo=None).isoformat(" ", "microseconds") writes, at half
            # the cost.
            return _STORED % (value.year, value.month, value.day, value.hour, value.minute,
                              value.second, value.microsecond)

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """On SQLite, read the stored text as an aware moment at once (what SQLite's
        DateTime and process_result_value do in two steps; datetime.replace alone costs more
        than parsing): an advance reads three moments of its case."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        slow = super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            if type(value) is str and len(value) == _STORED_LENGTH:  # what casework writes
                return datetime.fromisoformat(value + "+00:00")  # tzinfo: the UTC singleton
            return slow(value) if slow is not None else value

        return process


_METADATA = MetaData()

# The tables not made yet, with their columns, in the order they are declared. Making a Table
# costs SQLAlchemy far more than its Columns (events, constraints, the primary key): some
# 60 M instructions for all of them (a fiftieth of a second), and a command uses about half.
# So a table is made when it is first used (a column, ``__table__``, ``select(Case)``), and
# all of them when ``Base.metadata`` is asked for (DDL, migrations, autogenerate).
_PENDING: dict[type, list[Column[Any]]] = {}
_NAMES: dict[type, frozenset[str]] = {}  # each table class's column names, made or not
_MAKING = threading.RLock()  # threads of the web front may use a table first at once


def _make(cls: type) -> None:
    with _MAKING:
        columns = _PENDING.pop(cls, None)
        if columns is None:
            return  # made meanwhile
        table = Table(cls.__tablename__, _METADATA, *columns,  # type: ignore[attr-defined]
                      *cls.__table_args__)  # type: ignore[attr-defined]
        for column in columns:
            setattr(cls, column.key, column)
        cls.__table__ = table  # type: ignore[attr-defined]


class _Schema(type):
    @property
    def metadata(cls) -> MetaData:
        """The whole schema, as migrations and Alembic's autogenerate compare it."""
        for pending in list(_PENDING):
            _make(pending)
        while _DDL_ONLY:
            _DDL_ONLY.pop()()
        return _METADATA

    def __getattr__(cls, name: str) -> Any:
        """A column or ``__table__`` of a table not made yet: make it, then answer."""
        names = _NAMES.get(cls)
        if names is not None and (name == "__table__" or name in names):
            _make(cls)  # or wait while another thread makes it
            return type.__getattribute__(cls, name)
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


class Base(metaclass=_Schema):
    """A table declared as a class: its Column attributes (named after the attribute) and
    ``__table_args__`` (indexes, constraints) make ``__table__`` on ``Base.metadata``, when
    the table is first used."""

    __tablename__: ClassVar[str]
    __table__: ClassVar[Table]
    __table_args__: ClassVar[tuple[Any, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        columns = []
        for key, value in list(vars(cls).items()):
            if isinstance(value, Column):
                value.name = value.key = key
                columns.append(value)
                delattr(cls, key)  # until the table is made (_Schema.__getattr__)
        _PENDING[cls] = columns
        _NAMES[cls] = frozenset(column.key for column in columns)

    @classmethod
    def __clause_element__(cls) -> Table:
        """``select(Case)``, ``join(Case, ...)``: the table."""
        return cls.__table__


# A person who moved away or died: never approached again, and no letter goes to them.
PERSON_FLAGS = ("moved", "deceased")


class Participant(Base):
    __tablename__ = "participants"
    # Search by postcode and house number (the web front's Zoeken, 'person find').
    __table_args__ = (Index("ix_participants_postcode_house_number", "postcode",
                            "house_number"),)

    id = Column(Integer, primary_key=True)
    bsn = Column(String(9), unique=True, nullable=False)
    initials = Column(String(20))
    prefix = Column(String(20))
    surname = Column(String(100), nullable=False)
    street = Column(String(100), nullable=False)
    house_number = Column(Integer, nullable=False)
    house_number_suffix = Column(String(10))
    postcode = Column(String(7), nullable=False)
    city = Column(String(80), nullable=False)
    wijk = Column(String(80), index=True, nullable=False)
    phone = Column(String(30))
    email = Column(String(200))
    wij_team_contact = Column(Boolean, default=False, nullable=False)
    last_guidance = Column(Date)
    created_at = Column(UTCDateTime, nullable=False)
    birth_date = Column(Date)
    # moved or deceased (PERSON_FLAGS): never approached again, nothing more sent to them
    flag = Column(String(20))
    # Anonymised by a purge once the retention period of all their cases had passed.
    purged_at = Column(UTCDateTime)


class Staff(Base):
    __tablename__ = "staff"

    id = Column(Integer, primary_key=True)
    name = Column(String(80), unique=True, nullable=False)
    full_name = Column(String(200))
    role = Column(String(30), nullable=False)
    active = Column(Boolean, default=True, nullable=False)
    # Every role (role is the first); a case worker's wijken; a coordinator's projects
    # (route ids; none listed: every project).
    roles = Column(JSONType)
    wijken = Column(JSONType)
    projects = Column(JSONType)
    created_at = Column(UTCDateTime, nullable=False)
    # The web front's login: an argon2 hash (none: no web login), failed attempts in a row,
    # and the moment a lockout after too many ends.
    password_hash = Column(String(200))
    failed_logins = Column(Integer, default=0, server_default="0", nullable=False)
    locked_until = Column(UTCDateTime)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_workflow_state", "workflow_id", "state"),
        Index("ix_cases_participant_workflow", "participant_id", "workflow_id"),
        Index("ix_cases_wijk_state", "wijk", "state"),
    )

    id = Column(Integer, primary_key=True)
    participant_id = Column(Integer, ForeignKey("participants.id"), nullable=False)
    workflow_id = Column(String(80), nullable=False)
    workflow_version = Column(Integer, nullable=False)
    state = Column(String(80), nullable=False)
    state_entered_at = Column(UTCDateTime, nullable=False)
    assigned_to = Column(String(80), index=True)
    wijk = Column(String(80), nullable=False)
    wave = Column(Integer)
    data = Column(JSONType, default=dict, nullable=False)
    opened_at = Column(UTCDateTime, nullable=False)
    closed_at = Column(UTCDateTime)
    close_reason = Column(String(80))
    last_event_at = Column(UTCDateTime, nullable=False)
    version = Column(Integer, default=1, nullable=False)
    # Why a rule keeps this person out of waves (kept, listed, never invited).
    excluded = Column(String(80))


class Event(Base):
    """Append-only history of a case: one row per transition (and the opening)."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
        # Reports count events of a few triggers up to a date.
        Index("ix_events_trigger_at", "trigger", "at"),
    )

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=False)
    seq = Column(Integer, nullable=False)
    at = Column(UTCDateTime, nullable=False)
    recorded_at = Column(UTCDateTime, nullable=False)
    actor = Column(String(80), nullable=False)
    trigger = Column(String(80), nullable=False)
    from_state = Column(String(80))
    to_state = Column(String(80), nullable=False)
    data = Column(JSONType, default=dict, nullable=False)
    note = Column(Text)
    reason = Column(String(80))
    # Tamper evidence: each sealed event carries a hash over its content and the hash of the
    # event sealed before it. The content is hashed field by field, so a purge can blank the
    # personal fields (note, free text in data) and keep their digests here (redacted_digests:
    # {"note": ..., "data": {key: ...}}); everything else of a redacted event is still checked.
    hash = Column(String(64))
    redacted_at = Column(UTCDateTime)
    redacted_digests = Column(JSONType)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_due", "status", "due"),)

    id = Column(Integer, primary_key=True)
    key = Column(String(200), unique=True, nullable=False)
    case_id = Column(Integer, ForeignKey("cases.id"), index=True, nullable=False)
    kind = Column(String(80), nullable=False)
    due = Column(Date, nullable=False)
    round = Column(Integer, default=1, nullable=False)
    status = Column(String(20), default="open", nullable=False)
    attempts = Column(Integer, default=0, nullable=False)
    assigned_to = Column(String(80))
    result = Column(JSONType)
    created_at = Column(UTCDateTime, nullable=False)
    done_at = Column(UTCDateTime)
    # staff: on work lists; system: a timer the daily run acts on when it is due.
    performer = Column(String(10), default="staff", server_default="staff", nullable=False)
    # state: cancelled when the case leaves the state that planned it; case: only on closing;
    # person: owed to the person, cancelled only by a closing that may send them nothing.
    scope = Column(String(10), default="state", server_default="state", nullable=False)
    role = Column(String(30))
    label = Column(String(200))
    spec = Column(JSONType)
    origin_seq = Column(Integer)
    last_error = Column(Text)
    escalate_to = Column(String(30))
    escalated_at = Column(UTCDateTime)
    done_by = Column(String(80))


class Appointment(Base):
    __tablename__ = "appointments"

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id"), index=True, nullable=False)
    starts_at = Column(UTCDateTime, index=True, nullable=False)
    location = Column(String(200))
    status = Column(String(20), default="planned", nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    # The staff member who holds the conversation (waves planned with --specialist NAME).
    specialist = Column(String(80))


def _booked_once() -> None:
    """A specialist is booked once per moment: two waves never give them the same slot.

    A partial index: its where-clauses load the SQLite and PostgreSQL dialects (the latter a
    twentieth of a second), so it joins the table when ``Base.metadata`` is asked for (DDL,
    migrations, autogenerate), not on every command, which makes no DDL."""
    where = "status = 'planned' AND specialist IS NOT NULL"
    Index("ix_appointments_specialist_booked", Appointment.specialist, Appointment.starts_at,
          unique=True, sqlite_where=text(where), postgresql_where=text(where))


_DDL_ONLY = [_booked_once]
# A planned appointment, as a constant written in the SQL (not a bound parameter): compare
# Appointment.status with this. SQLite may use the partial index above only for a status it
# knows when it prepares a statement; for a bound one it prepares the statement again at
# every execution (about 75,000 instructions: each line of a bulk apply that moves an
# appointment paid it).
PLANNED = literal_column("'planned'")


class Referral(Base):
    __tablename__ = "referrals"

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id"), index=True, nullable=False)
    partner = Column(String(80), index=True, nullable=False)
    status = Column(String(20), default="sent", nullable=False)
    outcome = Column(String(80))
    referred_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)


class Consent(Base):
    __tablename__ = "consents"

    id = Column(Integer, primary_key=True)
    participant_id = Column(Integer, ForeignKey("participants.id"), index=True, nullable=False)
    case_id = Column(Integer, ForeignKey("cases.id"))
    scope = Column(String(120), nullable=False)
    granted = Column(Boolean, nullable=False)
    method = Column(String(30), nullable=False)
    recorded_by = Column(String(80), nullable=False)
    at = Column(UTCDateTime, nullable=False)


class RouteVersion(Base):
    """The text of each version of a route, so cases on an old version keep working after its
    file changed or went."""

    __tablename__ = "route_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version", name="uq_route_versions"),)

    id = Column(Integer, primary_key=True)
    workflow_id = Column(String(80), nullable=False)
    version = Column(Integer, nullable=False)
    source = Column(Text, nullable=False)
    sha256 = Column(String(64), nullable=False)
    file_name = Column(String(200), nullable=False)
    first_seen = Column(UTCDateTime, nullable=False)


class Budget(Base):
    """The work budget of a project (a route) for a year, in euro cents."""

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("workflow_id", "year", name="uq_budgets_route_year"),)

    id = Column(Integer, primary_key=True)
    workflow_id = Column(String(80), nullable=False)
    year = Column(Integer, nullable=False)
    amount_cents = Column(BigInteger, nullable=False)
    set_by = Column(String(80), nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)


class Spending(Base):
    """Money spent from a project's work budget on one case, with its purpose."""

    __tablename__ = "spending"

    id = Column(Integer, primary_key=True)
    budget_id = Column(Integer, ForeignKey("budgets.id"), index=True, nullable=False)
    case_id = Column(Integer, ForeignKey("cases.id"), index=True, nullable=False)
    amount_cents = Column(BigInteger, nullable=False)
    purpose = Column(String(200), nullable=False)
    spent_on = Column(Date, nullable=False)
    recorded_by = Column(String(80), nullable=False)
    recorded_at = Column(UTCDateTime, nullable=False)


class Letter(Base):
    __tablename__ = "letters"
    # ix_letters_batch: below (_batched_only), a partial index.
    __table_args__ = (Index("ix_letters_status", "status"),)

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id"), index=True, nullable=False)
    template = Column(String(80), nullable=False)
    variant = Column(String(40))
    status = Column(String(20), default="queued", nullable=False)
    batch = Column(String(80))
    file = Column(String(300))
    checksum = Column(String(64))
    pages = Column(Integer)
    created_at = Column(UTCDateTime, nullable=False)
    rendered_at = Column(UTCDateTime)
    # What the letter says, as it was when the step asked for it (appointment, partner, ...).
    payload = Column(JSONType)
    partner = Column(String(80))
    sheets = Column(Integer)
    address = Column(JSONType)
    postcode = Column(String(7))
    reason = Column(Text)
    attempts = Column(Integer, default=0, server_default="0", nullable=False)
    origin_seq = Column(Integer)
    sent_at = Column(UTCDateTime)
    returned_at = Column(UTCDateTime)


def _batched_only() -> None:
    """Letters are looked up by batch only once they are in one (``batch = ...``, ``batch IS
    NOT NULL``): a partial index, so a letter queued without a batch, as every step that
    writes one queues it, adds no entry (one index page fewer in its transaction). Made
    with the DDL, as ``_booked_once``."""
    where = "batch IS NOT NULL"
    Index("ix_letters_batch", Letter.batch, sqlite_where=text(where),
          postgresql_where=text(where))


_DDL_ONLY.append(_batched_only)

class Batch(Base):
    """A mail-house batch, sealed when made: its letters, PDF and manifest never change.
    status: made, then sent (handed to the mail house) or remade (never handed over; its
    files are removed and its letters queued again as new letters)."""

    __tablename__ = "batches"

    name = Column(String(80), primary_key=True)
    run_date = Column(Date, nullable=False)
    status = Column(String(20), nullable=False)
    made_at = Column(UTCDateTime, nullable=False)
    letters = Column(Integer, nullable=False)
    pages = Column(Integer, nullable=False)
    sheets = Column(Integer, nullable=False)
    pdf = Column(String(300), nullable=False)
    manifest = Column(String(300), nullable=False)
    sent_at = Column(UTCDateTime)
    sent_by = Column(String(80))
    remade_at = Column(UTCDateTime)
    remade_by = Column(String(80))


class Wave(Base):
    """A wave's number in its route and wijk, claimed once (``cohort plan``): two planners at
    one moment never get the same number (the unique key; the loser takes the next)."""

    __tablename__ = "waves"
    __table_args__ = (
        UniqueConstraint("workflow_id", "wijk", "number", name="uq_waves_route_wijk_number"),
    )

    id = Column(Integer, primary_key=True)
    workflow_id = Column(String(80), nullable=False)
    wijk = Column(String(80), nullable=False)
    number = Column(Integer, nullable=False)
    # None for the waves planned before this table, known only by their cases.
    planned_at = Column(UTCDateTime)
    planned_by = Column(String(80))


class AccessLog(Base):
    """Who read or changed which case(s), when, and for what purpose."""

    __tablename__ = "access_log"

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, index=True, nullable=False)
    actor = Column(String(80), index=True, nullable=False)
    action = Column(String(40), nullable=False)
    case_ids = Column(JSONType, nullable=False)
    purpose = Column(String(200))
    # Each entry carries the hash of the one before it (tamper evidence).
    prev_hash = Column(String(64))
    hash = Column(String(64))


class DailyRun(Base):
    """The run ledger: one row per daily run (several per date when rerun)."""

    __tablename__ = "daily_runs"

    id = Column(Integer, primary_key=True)
    run_date = Column(Date, index=True, nullable=False)
    started_at = Column(UTCDateTime, nullable=False)
    finished_at = Column(UTCDateTime)
    status = Column(String(20), nullable=False)
    dry_run = Column(Boolean, default=False, nullable=False)
    done = Column(Integer, default=0, nullable=False)
    failed = Column(Integer, default=0, nullable=False)
    summary = Column(JSONType)
    host = Column(String(200))
    pid = Column(Integer)


class Employer(Base):
    """An employer candidates meet at Meedoenpleinen and may be matched with."""

    __tablename__ = "employers"

    id = Column(Integer, primary_key=True)
    name = Column(String(200), unique=True, nullable=False)
    sector = Column(String(100))
    contact = Column(String(200))
    active = Column(Boolean, default=True, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


# The kinds of meeting; a candidate at the first takes their route's meeting step.
MEETING_KINDS = ("meedoenplein", "other")


class Meeting(Base):
    """A Meedoenplein or another meeting where candidates and employers meet."""

    __tablename__ = "meetings"

    id = Column(Integer, primary_key=True)
    kind = Column(String(30), nullable=False)
    title = Column(String(200))
    day = Column(Date, index=True, nullable=False)
    place = Column(String(200), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class MeetingAttendance(Base):
    """Who attended a meeting: a candidate (case) or an employer."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "case_id", name="uq_attendance_case"),
        UniqueConstraint("meeting_id", "employer_id", name="uq_attendance_employer"),
    )

    id = Column(Integer, primary_key=True)
    meeting_id = Column(Integer, ForeignKey("meetings.id"), index=True, nullable=False)
    case_id = Column(Integer, ForeignKey("cases.id"), index=True)
    employer_id = Column(Integer, ForeignKey("employers.id"), index=True)
    recorded_by = Column(String(80), nullable=False)
    at = Column(UTCDateTime, nullable=False)


class Match(Base):
    """A case matched with an employer: the job, hours per week and fte."""

    __tablename__ = "matches"

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id"), index=True, nullable=False)
    employer_id = Column(Integer, ForeignKey("employers.id"), index=True, nullable=False)
    job = Column(String(200))
    hours_per_week = Column(Float)
    fte = Column(Float)
    matched_at = Column(UTCDateTime, nullable=False)
    origin_seq = Column(Integer)


class Seal(Base):
    """How far a hash chain has been sealed: the last id and its hash."""

    __tablename__ = "seals"

    name = Column(String(40), primary_key=True)
    last_id = Column(Integer, nullable=False)
    last_hash = Column(String(64))
    sealed_at = Column(UTCDateTime, nullable=False)


class AppliedLine(Base):
    """A line of an apply file that was applied: its identity, so a rerun skips it.

    The key is a hash of the line's `id` or of what it does (case, trigger, at, data, note and
    which occurrence of that line in the file it is); no BSN is stored. The step is the event
    (case_id, seq), which also says when."""

    __tablename__ = "applied_lines"

    key = Column(String(32), primary_key=True)
    # What the line did (a hash), so an `id` reused for another step is noticed.
    digest = Column(String(32), nullable=False)
    case_id = Column(Integer, nullable=False)
    seq = Column(Integer, nullable=False)


class DatabaseMark(Base):
    """What a database is, set once when it is made: ('training', 'true') marks a training
    database, where --clock may set "now" (casework.training)."""

    __tablename__ = "database_marks"

    name = Column(String(40), primary_key=True)
    value = Column(String(200), nullable=False)
