"""The stored data: SQLAlchemy 2 ORM models with typed columns.

Times are stored as UTC and come back as aware datetimes on every database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

JSONType = JSON().with_variant(JSONB(), "postgresql")


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
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    bsn: Mapped[str] = mapped_column(String(9), unique=True)
    initials: Mapped[str | None] = mapped_column(String(20))
    prefix: Mapped[str | None] = mapped_column(String(20))
    surname: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(100))
    house_number: Mapped[int] = mapped_column(Integer)
    house_number_suffix: Mapped[str | None] = mapped_column(String(10))
    postcode: Mapped[str] = mapped_column(String(7))
    city: Mapped[str] = mapped_column(String(80))
    wijk: Mapped[str] = mapped_column(String(80), index=True)
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    wij_team_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    last_guidance: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    birth_date: Mapped[date | None] = mapped_column(Date)
    # moved or deceased: never approached again
    flag: Mapped[str | None] = mapped_column(String(20))
    # Anonymised by a purge once the retention period of all their cases had passed.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every role (role is the first); a case worker's wijken; a coordinator's projects
    # (route ids; none listed: every project).
    roles: Mapped[list[str] | None] = mapped_column(JSONType)
    wijken: Mapped[list[str] | None] = mapped_column(JSONType)
    projects: Mapped[list[str] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The web front's login: an argon2 hash (none: no web login), failed attempts in a row,
    # and the moment a lockout after too many ends.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_workflow_state", "workflow_id", "state"),
        Index("ix_cases_participant_workflow", "participant_id", "workflow_id"),
        Index("ix_cases_wijk_state", "wijk", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    workflow_id: Mapped[str] = mapped_column(String(80))
    workflow_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(80))
    state_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_to: Mapped[str | None] = mapped_column(String(80), index=True)
    wijk: Mapped[str] = mapped_column(String(80))
    wave: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(String(80))
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Why a rule keeps this person out of waves (kept, listed, never invited).
    excluded: Mapped[str | None] = mapped_column(String(80))


class Event(Base):
    """Append-only history of a case: one row per transition (and the opening)."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
        # Reports count events of a few triggers up to a date.
        Index("ix_events_trigger_at", "trigger", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    trigger: Mapped[str] = mapped_column(String(80))
    from_state: Mapped[str | None] = mapped_column(String(80))
    to_state: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(80))
    # Tamper evidence: each sealed event carries a hash over its content and the hash of the
    # event sealed before it. The content is hashed field by field, so a purge can blank the
    # personal fields (note, free text in data) and keep their digests here (redacted_digests:
    # {"note": ..., "data": {key: ...}}); everything else of a redacted event is still checked.
    hash: Mapped[str | None] = mapped_column(String(64))
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redacted_digests: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_due", "status", "due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(80))
    due: Mapped[date] = mapped_column(Date)
    round: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="open")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    assigned_to: Mapped[str | None] = mapped_column(String(80))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # staff: on work lists; system: a timer the daily run acts on when it is due.
    performer: Mapped[str] = mapped_column(String(10), default="staff", server_default="staff")
    # state: cancelled when the case leaves the state that planned it; case: only on closing.
    scope: Mapped[str] = mapped_column(String(10), default="state", server_default="state")
    role: Mapped[str | None] = mapped_column(String(30))
    label: Mapped[str | None] = mapped_column(String(200))
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    origin_seq: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    escalate_to: Mapped[str | None] = mapped_column(String(30))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(80))


class Appointment(Base):
    __tablename__ = "appointments"
    # A specialist is booked once per moment: two waves never give them the same slot.
    __table_args__ = (
        Index("ix_appointments_specialist_booked", "specialist", "starts_at", unique=True,
              sqlite_where=text("status = 'planned' AND specialist IS NOT NULL"),
              postgresql_where=text("status = 'planned' AND specialist IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    location: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The staff member who holds the conversation (waves planned with --specialist NAME).
    specialist: Mapped[str | None] = mapped_column(String(80))


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    partner: Mapped[str] = mapped_column(String(80), index=True)
    status: Mapped[str] = mapped_column(String(20), default="sent")
    outcome: Mapped[str | None] = mapped_column(String(80))
    referred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    scope: Mapped[str] = mapped_column(String(120))
    granted: Mapped[bool] = mapped_column(Boolean)
    method: Mapped[str] = mapped_column(String(30))
    recorded_by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class RouteVersion(Base):
    """The text of each version of a route, so cases on an old version keep working after its
    file changed or went."""

    __tablename__ = "route_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version", name="uq_route_versions"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(200))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class Budget(Base):
    """The work budget of a project (a route) for a year, in euro cents."""

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("workflow_id", "year", name="uq_budgets_route_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(80))
    year: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    set_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Spending(Base):
    """Money spent from a project's work budget on one case, with its purpose."""

    __tablename__ = "spending"

    id: Mapped[int] = mapped_column(primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(200))
    spent_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Letter(Base):
    __tablename__ = "letters"
    __table_args__ = (Index("ix_letters_status", "status"), Index("ix_letters_batch", "batch"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    template: Mapped[str] = mapped_column(String(80))
    variant: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    batch: Mapped[str | None] = mapped_column(String(80))
    file: Mapped[str | None] = mapped_column(String(300))
    checksum: Mapped[str | None] = mapped_column(String(64))
    pages: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the letter says, as it was when the step asked for it (appointment, partner, ...).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    partner: Mapped[str | None] = mapped_column(String(80))
    sheets: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[list[str] | None] = mapped_column(JSONType)
    postcode: Mapped[str | None] = mapped_column(String(7))
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    origin_seq: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Batch(Base):
    """A mail-house batch, sealed when made: its letters, PDF and manifest never change.
    status: made, then sent (handed to the mail house) or remade (never handed over; its
    files are removed and its letters queued again as new letters)."""

    __tablename__ = "batches"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime)
    letters: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    sheets: Mapped[int] = mapped_column(Integer)
    pdf: Mapped[str] = mapped_column(String(300))
    manifest: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by: Mapped[str | None] = mapped_column(String(80))
    remade_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remade_by: Mapped[str | None] = mapped_column(String(80))


class AccessLog(Base):
    """Who read or changed which case(s), when, and for what purpose."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(40))
    case_ids: Mapped[list[int]] = mapped_column(JSONType)
    purpose: Mapped[str | None] = mapped_column(String(200))
    # Each entry carries the hash of the one before it (tamper evidence).
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class DailyRun(Base):
    """The run ledger: one row per daily run (several per date when rerun)."""

    __tablename__ = "daily_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    host: Mapped[str | None] = mapped_column(String(200))
    pid: Mapped[int | None] = mapped_column(Integer)


class Employer(Base):
    """An employer candidates meet at Meedoenpleinen and may be matched with."""

    __tablename__ = "employers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    sector: Mapped[str | None] = mapped_column(String(100))
    contact: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Meeting(Base):
    """A Meedoenplein or another meeting where candidates and employers meet."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str | None] = mapped_column(String(200))
    day: Mapped[date] = mapped_column(Date, index=True)
    place: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MeetingAttendance(Base):
    """Who attended a meeting: a candidate (case) or an employer."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "case_id", name="uq_attendance_case"),
        UniqueConstraint("meeting_id", "employer_id", name="uq_attendance_employer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employers.id"), index=True)
    recorded_by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Match(Base):
    """A case matched with an employer: the job, hours per week and fte."""

    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employers.id"), index=True)
    job: Mapped[str | None] = mapped_column(String(200))
    hours_per_week: Mapped[float | None] = mapped_column(Float)
    fte: Mapped[float | None] = mapped_column(Float)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    origin_seq: Mapped[int | None] = mapped_column(Integer)


class Seal(Base):
    """How far a hash chain has been sealed: the last id and its hash."""

    __tablename__ = "seals"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str | None] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AppliedLine(Base):
    """A line of an apply file that was applied: its identity, so a rerun skips it.

    The key is a hash of the line's `id` or of what it does (case, trigger, at, data, note and
    which occurrence of that line in the file it is); no BSN is stored. The step is the event
    (case_id, seq), which also says when."""

    __tablename__ = "applied_lines"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    # What the line did (a hash), so an `id` reused for another step is noticed.
    digest: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)


class DatabaseMark(Base):
    """What a database is, set once when it is made: ('training', 'true') marks a training
    database, where --clock may set "now" (casework.training)."""

    __tablename__ = "database_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
