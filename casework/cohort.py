"""Cohort import: read a CSV as Dutch offices produce it, check every row, store the good ones.

Bad rows are reported by row number (the line number a spreadsheet shows, header = row 1) and
reason, never with the BSN in the message; good rows are imported in batches so a large file
streams and a rerun of the same file adds nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, cached_property
from pathlib import Path
from typing import IO, Any

from sqlalchemy import bindparam, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from casework.bulkwrite import write_many
from casework.db import ANALYZE_AFTER, checkpoints_aside, refresh_statistics, unit_of_work
from casework.engine import Engine
from casework.errors import InputFileError
from casework.fields import DATE_FORMS, DATE_RANGE, parse_date
from casework.models import PERSON_FLAGS, Case, Event, JSONType, Participant, UTCDateTime
from casework.outfiles import OutputFileError, csv_writer, open_output
from casework.permissions import Actor
from casework.route_versions import keep_route_version
from casework.text import masked, shown, unclean

COLUMNS = (
    "bsn", "initials", "prefix", "surname", "street", "house_number", "house_number_suffix",
    "postcode", "city", "wijk", "phone", "email", "wij_team_contact", "last_guidance",
    "birth_date", "flag",
)
FLAGS = PERSON_FLAGS
REQUIRED = ("bsn", "surname", "street", "house_number", "postcode", "city", "wijk")
# Column names Dutch offices use for the same things.
ALIASES = {
    "voorletters": "initials", "tussenvoegsel": "prefix", "achternaam": "surname",
    "straat": "street", "huisnummer": "house_number", "toevoeging": "house_number_suffix",
    "huisnummertoevoeging": "house_number_suffix", "woonplaats": "city", "telefoon": "phone",
    "e-mail": "email", "wijkteam_contact": "wij_team_contact",
    "laatste_begeleiding": "last_guidance", "geboortedatum": "birth_date",
}
# A case opened by the import is at version 1 (its opening); the exclusion is its event 2.
_MARK_EXCLUDED = (
    update(Case.__table__).where(Case.__table__.c.id == bindparam("b_id"))
    .values(excluded=bindparam("b_reason"), version=2)
)
EXCLUDE = "exclude"
# Built once: write_many compiles a statement once and binds the rows' values itself.
_INSERT_PEOPLE = insert(Participant.__table__)
_INSERT_EVENTS = insert(Event.__table__)
# A batch's BSNs bound as one list when the statement runs (not an IN of thousands of values
# built and coerced one by one).
_BSNS = bindparam("b_bsns", expanding=True)
_KNOWN = select(Participant.bsn).where(Participant.bsn.in_(_BSNS))
_IDS = select(Participant.id, Participant.bsn).where(Participant.bsn.in_(_BSNS))
# The widths of the participant columns in casework.models.
MAX_LENGTH = {
    "initials": 20, "prefix": 20, "surname": 100, "street": 100, "house_number_suffix": 10,
    "city": 80, "wijk": 80, "phone": 30, "email": 200,
}
_POSTCODE = re.compile(r"^([1-9][0-9]{3}) ?([A-Z]{2})$")
_NOT_PHONE = re.compile(r"[^0-9 +\-()]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BAD_BYTES = re.compile("[\udc80-\udcff]")
_CODE = re.compile(r"U\+[0-9A-F]{4,6}")  # a character's code in unclean()'s words
_YES = {"yes", "ja", "j", "y", "true", "1", "x"}
_NO = {"no", "nee", "n", "false", "0", ""}
# Each column by the Dutch name offices give it (the first alias), for the web front's words.
COLUMN_NL = {**{c: c for c in COLUMNS},
             **{column: alias for alias, column in reversed(ALIASES.items())}}
# Why rows are rejected (RowError's category), in Dutch.
CATEGORY_NL = {
    "invalid BSN": "ongeldig BSN", "missing required field": "verplicht veld leeg",
    "control character": "onzichtbaar teken", "malformed postcode": "postcode onjuist",
    "bad house number": "huisnummer onjuist", "bad yes/no value": "ja/nee onjuist",
    "bad date": "datum onjuist", "bad phone number": "telefoonnummer onjuist",
    "bad e-mail address": "e-mailadres onjuist", "bad flag": "flag onjuist",
    "value too long": "waarde te lang", "unreadable row": "rij onleesbaar",
    "bad encoding": "geen UTF-8", "wrong number of fields": "verkeerd aantal velden",
    "duplicate BSN": "dubbel BSN",
}
_DATE_NL = "schrijf 2026-12-07 of 07-12-2026"


class RowError(ValueError):
    """What is wrong with one row: its category, the detail, and the detail in Dutch
    (``says``, for the web front)."""

    def __init__(self, category: str, detail: str, says: str | None = None) -> None:
        self.category = category
        self.detail = detail
        self.says = says or detail
        super().__init__(detail)


@dataclass
class Reject:
    row: int
    category: str
    detail: str
    says: str = ""  # the detail in Dutch


@dataclass
class RowWarning:
    """A row imported without one of its optional fields, which was not valid."""

    row: int
    field: str
    detail: str
    says: str = ""  # the detail in Dutch


@dataclass
class ImportSummary:
    file: str
    workflow: str
    read: int = 0
    imported: int = 0
    already_present: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        return dict(Counter(r.category for r in self.rejects).most_common())

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "workflow": self.workflow, "read": self.read,
            "imported": self.imported, "already_present": self.already_present,
            "excluded": sum(self.excluded.values()),
            "excluded_by_reason": dict(self.excluded.most_common()),
            "rejected": self.rejected, "rejected_by_reason": self.rejected_by_reason,
            "rejects": [{"row": r.row, "reason": r.category, "detail": r.detail}
                        for r in self.rejects],
            "warnings": [{"row": w.row, "field": w.field, "detail": w.detail}
                         for w in self.warnings],
            "ignored_columns": self.ignored_columns,
        }


def normalise_bsn(text: str) -> str:
    """Return the BSN as 9 digits; RowError (never showing the number) when it is not one.

    Only the ASCII digits 0-9 make a BSN: other scripts' digits ('٧', '⁷') are refused, so
    one person can never be stored under two spellings of the same number."""
    number = text.strip().replace(" ", "").replace(".", "")
    if not (number.isascii() and number.isdigit()) or not 8 <= len(number) <= 9:
        raise RowError("invalid BSN", "BSN must be 9 digits 0-9 (check the number)",
                       "het BSN moet uit 9 cijfers 0-9 bestaan (controleer het nummer)")
    number = number.zfill(9)
    if int(number) == 0 or _elfproef().checksum(number) != 0:
        raise RowError("invalid BSN", "BSN fails the elfproef (check the number)",
                       "het BSN voldoet niet aan de elfproef (controleer het nummer)")
    return number


@cache
def _elfproef() -> Any:
    """Return python-stdnum's BSN module, imported on the first BSN checked: stdnum imports
    pydoc, which a command that names cases by number (an apply file, case show) never
    needs. (A hand-written elfproef would save about a tenth of an import's row checks;
    the check stays with the library made for it.)"""
    from stdnum.nl import bsn

    return bsn


def check_phone(text: str) -> str | None:
    """Return the phone number as written (None when empty); RowError when it is not one."""
    phone = text.strip() or None
    if phone and len(phone) > MAX_LENGTH["phone"]:
        raise RowError("value too long", f"phone is longer than {MAX_LENGTH['phone']} characters",
                       f"telefoon is langer dan {MAX_LENGTH['phone']} tekens")
    # Only 0-9, spaces, +, - and brackets; then the digits are the characters 0-9.
    if phone and (_NOT_PHONE.search(phone)
                  or not 10 <= sum(map(phone.count, "0123456789")) <= 15):
        raise RowError("bad phone number", f"phone {shown(phone)} is not a phone number",
                       f"telefoon {shown(phone)} is geen telefoonnummer")
    return phone


def check_email(text: str) -> str | None:
    """Return the e-mail address (None when empty); RowError when it is not one."""
    email = text.strip() or None
    if email and len(email) > MAX_LENGTH["email"]:
        raise RowError("value too long", f"email is longer than {MAX_LENGTH['email']} characters",
                       f"e-mail is langer dan {MAX_LENGTH['email']} tekens")
    if email and not _EMAIL.match(email):
        raise RowError("bad e-mail address", f"email {shown(email)} is not an e-mail address",
                       f"e-mail {shown(email)} is geen e-mailadres")
    return email


def check_postcode(text: str) -> str:
    """Return a Dutch postcode as '9711 AB'; RowError when it is not one."""
    match = _POSTCODE.match(text.strip().upper())
    if match is None:
        raise RowError("malformed postcode", f"postcode {shown(text.strip())} is not like 1234 AB",
                       f"postcode {shown(text.strip())} is niet zoals 1234 AB")
    return f"{match.group(1)} {match.group(2)}"


def check_house_number(text: str) -> int:
    """Return the house number; RowError when it is not a whole number from 1 to 99999."""
    house = text.strip()
    if not (house.isascii() and house.isdigit()) or not 0 < int(house) < 100000:
        raise RowError("bad house number", f"house_number {shown(house)} is not a whole number",
                       f"huisnummer {shown(house)} is geen heel getal")
    return int(house)


# Optional contact details: a bad one in a cohort file is left out (with a warning), not a
# reason to leave the person out; the letters go by post.
CONTACT_CHECKS: dict[str, Callable[[str], str | None]] = {
    "phone": check_phone, "email": check_email,
}


def check_row(raw: dict[str, str], today: date,
              dropped: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    """Return the participant values of one CSV row; RowError says what is wrong.

    With ``dropped`` given, a bad optional contact detail (phone, e-mail) is left out instead
    and (field, what is wrong, the same in Dutch) appended to it."""
    texts = [raw.get(name) or "" for name in COLUMNS]
    if not "".join(texts).isprintable():  # a row of printable text is clean: one pass in C
        for name, text in zip(COLUMNS, texts, strict=True):
            problem = unclean(text)
            if problem:
                code = _CODE.search(problem)
                raise RowError("control character", f"{name} contains {problem}; remove it",
                               f"{COLUMN_NL[name]} bevat een onzichtbaar teken"
                               f"{f' ({code.group()})' if code else ''}; haal het weg")
    row = dict(zip(COLUMNS, map(str.strip, texts), strict=True))
    for name in REQUIRED:
        if not row[name]:
            raise RowError("missing required field", f"{name} is empty",
                           f"{COLUMN_NL[name]} is leeg")
    number = normalise_bsn(row["bsn"])
    postcode = check_postcode(row["postcode"])
    house = check_house_number(row["house_number"])
    flag = row["wij_team_contact"].lower()
    if flag not in _YES and flag not in _NO:
        raise RowError("bad yes/no value", f"wij_team_contact {shown(flag)} must be yes or no",
                       f"wijkteam_contact {shown(flag)} moet ja of nee zijn")
    last_guidance = None
    text = row["last_guidance"]
    if text:
        try:
            last_guidance = parse_date(text)
        except ValueError:
            raise RowError("bad date",
                           f"last_guidance {shown(text)} is not a date {DATE_RANGE} "
                           f"(use {DATE_FORMS})",
                           f"laatste_begeleiding {shown(text)} is geen datum ({_DATE_NL})"
                           ) from None
        if last_guidance > today:
            raise RowError("bad date", f"last_guidance {shown(text)} lies in the future",
                           f"laatste_begeleiding {shown(text)} ligt in de toekomst")
    contact: dict[str, str | None] = {}
    for name, check in CONTACT_CHECKS.items():
        try:
            contact[name] = check(row[name])
        except RowError as exc:
            if dropped is None:
                raise
            dropped.append((name, exc.detail, exc.says))
            contact[name] = None
    birth_date = None
    text = row["birth_date"]
    if text:
        try:
            birth_date = parse_date(text)
        except ValueError:
            raise RowError("bad date",
                           f"birth_date {shown(text)} is not a date {DATE_RANGE} "
                           f"(use {DATE_FORMS})",
                           f"geboortedatum {shown(text)} is geen datum ({_DATE_NL})") from None
        if birth_date > today or birth_date.year < 1900:
            raise RowError("bad date", f"birth_date {shown(text)} is not a plausible birth date",
                           f"geboortedatum {shown(text)} is geen mogelijke geboortedatum")
    person_flag = row["flag"].lower() or None
    if person_flag is not None and person_flag not in FLAGS:
        raise RowError("bad flag", f"flag {shown(person_flag)} must be empty, moved or deceased",
                       f"flag {shown(person_flag)} moet leeg, moved of deceased zijn")
    for name, limit in _TEXT_LENGTH:
        if len(row[name]) > limit:
            raise RowError("value too long", f"{name} is longer than {limit} characters",
                           f"{COLUMN_NL[name]} is langer dan {limit} tekens")
    return {
        "bsn": number,
        "initials": row["initials"] or None,
        "prefix": row["prefix"] or None,
        "surname": row["surname"],
        "street": row["street"],
        "house_number": house,
        "house_number_suffix": row["house_number_suffix"] or None,
        "postcode": postcode,
        "city": row["city"],
        "wijk": row["wijk"],
        "phone": contact["phone"],
        "email": contact["email"],
        "wij_team_contact": flag in _YES,
        "last_guidance": last_guidance,
        "birth_date": birth_date,
        "flag": person_flag,
    }


# The widths checked after the other checks (the contact details check their own).
_TEXT_LENGTH = tuple((name, limit) for name, limit in MAX_LENGTH.items()
                     if name not in CONTACT_CHECKS)


def _normalise(name: str) -> str:
    key = name.strip().lower().replace(" ", "_")
    return ALIASES.get(key, key)


@dataclass(frozen=True)
class Upload:
    """A cohort file sent through the web front: its bytes, held in memory for the one
    request that reads them (never written to disk by the core), and the name it had."""

    name: str
    data: bytes

    @cached_property
    def digest(self) -> str:
        """The SHA-256 of the bytes (computed once): a preview and its confirmation must
        read the same file."""
        return hashlib.sha256(self.data).hexdigest()


# The longest file name an upload keeps (it is stored on the opening events).
UPLOAD_NAME_LENGTH = 100


def upload(name: str, data: bytes) -> Upload:
    """Return a cohort file sent through the web front, after the checks that refuse it as a
    whole (one line, in Dutch too): empty, or not UTF-8 (a spreadsheet saved as Excel or in
    another encoding). The name is the file's own name without folders, with no control
    characters and a run of 8 or more digits masked (it may hold a BSN)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = masked("".join(ch for ch in base if not unclean(ch)))[:UPLOAD_NAME_LENGTH]
    base = base or "cohort.csv"
    if not data.strip():
        raise InputFileError(f"{base}: the file is empty",
                             says=f"{base} is leeg; kies het bestand met het cohort.")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputFileError(
            f"{base}: the file is not UTF-8 text; save it as CSV UTF-8",
            says=f"{base} is geen CSV-bestand in UTF-8 (een Excel-bestand, of een andere "
                 "tekenset); sla het op als 'CSV UTF-8' en kies het opnieuw.") from None
    return Upload(base, data)


def _label(source: Path | Upload) -> str:
    """How messages name the file: the path given, or the upload's name."""
    return source.name if isinstance(source, Upload) else str(source)


def _count_lines(source: Path | Upload) -> int:
    if isinstance(source, Upload):
        return source.data.count(b"\n")
    count = 0
    with source.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            count += block.count(b"\n")
    return count


def read_rows(source: Path | Upload) -> tuple[list[str], str,
                                             Iterator[tuple[int, list[str] | RowError]]]:
    """Return the header, the delimiter and an iterator of (row number, fields), or of (row
    number, RowError) for a row the CSV reader cannot read."""
    label = _label(source)
    if isinstance(source, Upload):
        fh: IO[bytes] = io.BytesIO(source.data)
    else:
        try:
            fh = source.open("rb")
        except OSError as exc:
            raise InputFileError(f"{label}: cannot be read ({exc.strerror})") from None
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
    first = text.readline()
    if not first.strip():
        fh.close()
        raise InputFileError(f"{label}: the file is empty; it needs a header row with "
                             f"the columns {', '.join(REQUIRED)}",
                             says=f"{label} is leeg; de eerste rij noemt de kolommen "
                                  f"{', '.join(COLUMN_NL[c] for c in REQUIRED)}.")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=delimiter))

    def rows() -> Iterator[tuple[int, list[str] | RowError]]:
        with text:
            # Spreadsheet numbering: the header is row 1, each record one row, even when a
            # quoted cell holds a line break or a row is blank.
            reader = csv.reader(text, delimiter=delimiter)
            row_no = 1
            while True:
                row_no += 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # e.g. a cell over csv's field size limit
                    yield row_no, RowError("unreadable row", f"cannot be read as CSV ({exc}); "
                                           "check quotes and very long cells",
                                           "is niet als CSV te lezen; controleer de "
                                           "aanhalingstekens en heel lange cellen")
                    continue
                if not any(cell.strip() for cell in fields):
                    continue  # a blank row, or one of empty cells (';;;;') a spreadsheet left
                yield row_no, fields

    return header, delimiter, rows()


def _check_header(label: str, header: list[str], names: list[str]) -> None:
    """Refuse a header without the required columns, or with a column twice (InputFileError,
    in Dutch too)."""
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        looks_like_data = any(any(ch.isdigit() for ch in h) for h in header)
        found = ("the first row holds data, not column names" if looks_like_data
                 else "found: " + ", ".join(header))
        found_nl = ("de eerste rij bevat gegevens, geen kolomnamen" if looks_like_data
                    else "gevonden: " + ", ".join(header))
        raise InputFileError(
            f"{label}: the header misses the column(s) {', '.join(missing)}; the first row must "
            f"name the columns {', '.join(COLUMNS)} ({found})",
            says=f"In {label} ontbreken de kolommen {', '.join(COLUMN_NL[c] for c in missing)}; "
                 f"de eerste rij moet de kolommen noemen ({found_nl})."
        )
    duplicates = [n for n, k in Counter(names).items() if k > 1]
    if duplicates:
        raise InputFileError(f"{label}: column(s) {', '.join(duplicates)} appear twice in the "
                             "header; keep one",
                             says=f"In {label} staan de kolommen "
                                  f"{', '.join(COLUMN_NL.get(n, n) for n in duplicates)} twee "
                                  "keer in de eerste rij; houd er een.")


def importable_routes(engine: Engine, actor: Actor) -> list[Any]:
    """Return the routes (newest versions) the actor may import a cohort into: those of
    their projects (every route when none are listed)."""
    from casework.permissions import NotAllowed
    from casework.vocabulary import routes

    actor.require("cohort.import")
    found = []
    for route_id in routes(engine):
        try:
            actor.require_route("cohort.import", route_id)
        except NotAllowed:
            continue
        found.append(engine.registry.get(route_id))
    return found


def import_cohort(
    engine: Engine, path: Path | Upload, workflow_id: str, actor: Actor,
    rejects_path: Path | IO[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    at: datetime | None = None,
    dry_run: bool = False,
) -> ImportSummary:
    """Import a cohort file into a route; return the summary (rejects listed by row).

    at is the moment of selection (a past season), default now: the cases open then, and
    rows and exclusions are checked as of its day. Back office imports into the projects it
    works for (every project when none are set). ``dry_run``: the same checks and the same
    summary, counted against the database without writing anything (the web front's
    preview). The rejected rows go to ``rejects_path``: a file (reason in English), or a
    text stream (reason in Dutch, for a download)."""
    actor.require("cohort.import")
    route = engine.registry.get(workflow_id)
    actor.require_route("cohort.import", route.id)
    selected = engine.moment(at)
    label = _label(path)
    header, delimiter, rows = read_rows(path)
    names = [_normalise(h) for h in header]
    _check_header(label, header, names)
    if not dry_run:
        keep_route_version(engine, route)
    summary = ImportSummary(file=path.name, workflow=route.id)
    summary.ignored_columns = [h for h, n in zip(header, names, strict=True) if n not in COLUMNS]
    total = max(_count_lines(path) - 1, 0)
    today = selected.astimezone(engine.tz).date()
    seen: dict[int, int] = {}
    batch: list[dict[str, Any]] = []
    exclusions: dict[str, str] = {}
    rules = engine.rules
    batch_size: int = engine.settings["import.batch_size"]
    rejects = RejectsFile(rejects_path, delimiter, header)
    width = len(header)

    def reject(row_no: int, fields: list[str], category: str, detail: str, says: str) -> None:
        summary.rejects.append(Reject(row_no, category, detail, says))
        rejects.write(row_no, detail, says, fields)

    def store() -> None:
        if dry_run:
            _count_batch(engine, route.id, batch, summary, exclusions)
        else:
            _store_batch(engine, route.id, route.version, route.initial, batch, actor,
                         path.name, summary, exclusions, selected)

    with checkpoints_aside(engine):  # the log copied aside while batches are written
        try:
            for row_no, fields in rows:
                summary.read += 1
                if isinstance(fields, RowError):
                    reject(row_no, [], fields.category, fields.detail, fields.says)
                    continue
                if _BAD_BYTES.search(delimiter.join(fields)):
                    reject(row_no, fields, "bad encoding",
                           "contains characters that are not UTF-8; save the file as UTF-8",
                           "bevat tekens die geen UTF-8 zijn; sla het bestand op als UTF-8")
                    continue
                if len(fields) != width:
                    reject(row_no, fields, "wrong number of fields",
                           f"has {len(fields)} fields, the header has {width}",
                           f"heeft {len(fields)} velden, de eerste rij {width}")
                    continue
                dropped: list[tuple[str, str, str]] = []
                try:
                    values = check_row(dict(zip(names, fields, strict=True)), today, dropped)
                except RowError as exc:
                    reject(row_no, fields, exc.category, exc.detail, exc.says)
                    continue
                key = int(values["bsn"])
                if key in seen:
                    reject(row_no, fields, "duplicate BSN",
                           f"same BSN as row {seen[key]}; keep one of the two rows",
                           f"hetzelfde BSN als rij {seen[key]}; houd een van de twee rijen")
                    continue
                seen[key] = row_no
                if dropped:
                    summary.warnings.extend(
                        RowWarning(row_no, name, f"{detail}; imported without it",
                                   f"{says}; ingelezen zonder {COLUMN_NL[name]}")
                        for name, detail, says in dropped)
                batch.append(values)
                reason = rules.exclusion(values, route, today, engine.settings)
                if reason:
                    exclusions[values["bsn"]] = reason
                if len(batch) >= batch_size:
                    store()
                    batch = []
                    exclusions = {}
                    if progress:
                        progress(summary.read, total)
            if batch:
                store()
            if progress:
                progress(summary.read, total)
            rejects.finish()
        except OutputFileError as exc:
            # The good rows are stored and a rerun adds nothing twice: only the rejects file is
            # missing, and a rerun with another --rejects file writes it.
            raise OutputFileError(
                f"{exc}; the good rows were imported ({summary.imported} new, "
                f"{summary.already_present} already present): import the file again with "
                f"--rejects naming another file to get the {summary.rejected} rejected row(s)"
            ) from None
        finally:
            rejects.abort()
    if summary.imported >= ANALYZE_AFTER and not dry_run:
        refresh_statistics(engine.db, ("participants", "cases", "events"))
    return summary


class RejectsFile:
    """The rejected rows with their reasons, for correction: the --rejects CSV (the reason in
    English; a write error, such as a full disk, stops the file, not the import, and
    ``finish`` then reports it), or a text stream the web front hands out (Dutch headings and
    reasons). Both through the one formula-safe CSV writer."""

    def __init__(self, target: Path | IO[str] | None, delimiter: str,
                 header: list[str]) -> None:
        self.out = None
        self.dutch = target is not None and not isinstance(target, Path)
        self.error: OutputFileError | None = None
        if isinstance(target, Path):
            self.out = open_output(target, encoding="utf-8-sig", newline="",
                                   errors="surrogateescape")
            self.writer: Any = csv_writer(self.out.file, delimiter=delimiter)
        elif target is not None:
            self.writer = csv_writer(target, delimiter=delimiter)
        if target is not None:
            self.writer.writerow(["rij", "reden", *header] if self.dutch
                                 else ["row", "reason", *header])

    def write(self, row_no: int, detail: str, says: str, fields: list[str]) -> None:
        if (self.out is None and not self.dutch) or self.error is not None:
            return
        try:
            self.writer.writerow([row_no, says if self.dutch else detail, *fields])
        except OutputFileError as exc:
            self.error = exc

    def finish(self) -> None:
        if self.out is None:
            return
        if self.error is not None:
            raise self.error
        self.out.commit()

    def abort(self) -> None:
        if self.out is not None:
            self.out.abort()


def _count_batch(engine: Engine, workflow_id: str, batch: list[dict[str, Any]],
                 summary: ImportSummary, exclusions: dict[str, str]) -> None:
    """Count what storing one batch would do (a dry run), without writing: the people who
    have no case on this route yet would get one, the others are already present; the
    exclusions of the new cases are counted as ``_write_batch`` marks them."""
    bsns = [values["bsn"] for values in batch]
    with engine.db.connect() as conn:
        present = set(conn.execute(
            select(Participant.bsn).join(Case, Case.participant_id == Participant.id)
            .where(Participant.bsn.in_(bsns), Case.workflow_id == workflow_id)
        ).scalars())
    new = [bsn for bsn in bsns if bsn not in present]
    summary.imported += len(new)
    summary.already_present += len(bsns) - len(new)
    summary.excluded.update(exclusions[bsn] for bsn in new if bsn in exclusions)


def _store_batch(engine: Engine, workflow_id: str, version: int, initial: str,
                 batch: list[dict[str, Any]], actor: Actor, filename: str,
                 summary: ImportSummary, exclusions: dict[str, str],
                 selected: datetime) -> None:
    """Write one batch in one transaction; retried once when another import raced us."""
    for attempt in (1, 2):
        try:
            imported, present, excluded = _write_batch(
                engine, workflow_id, version, initial, batch, actor, filename, exclusions,
                selected)
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        summary.imported += imported
        summary.already_present += present
        summary.excluded.update(excluded)
        return


def _write_batch(engine: Engine, workflow_id: str, version: int, initial: str,
                 batch: list[dict[str, Any]], actor: Actor, filename: str,
                 exclusions: dict[str, str], selected: datetime) -> tuple[int, int, list[str]]:
    """Store new people, then open a case for everyone in the batch without one on this route,
    all dated at the moment of selection.

    Cases and their opening events are made with INSERT ... SELECT so the database does the
    per-row work; the batch's BSNs are the only per-row parameters.
    """
    bsns = [values["bsn"] for values in batch]
    with unit_of_work(engine) as conn:
        existing = set(conn.execute(_KNOWN, {"b_bsns": bsns}).scalars())
        new_people = [dict(v, created_at=selected) for v in batch if v["bsn"] not in existing]
        if new_people:
            write_many(conn, _INSERT_PEOPLE, new_people, together=True)
        has_case = (
            select(Case.id)
            .where(Case.participant_id == Participant.id, Case.workflow_id == workflow_id)
            .exists()
        )
        moment = literal(selected, UTCDateTime())
        people = (
            select(
                Participant.id, literal(workflow_id), literal(version), literal(initial),
                moment, Participant.wijk, literal({}, JSONType), moment, moment, literal(1),
            )
            .where(Participant.bsn.in_(_BSNS), ~has_case)
            .order_by(Participant.id)
        )
        case_ids = conn.execute(
            insert(Case).from_select(
                ["participant_id", "workflow_id", "workflow_version", "state",
                 "state_entered_at", "wijk", "data", "opened_at", "last_event_at", "version"],
                people,
            ).returning(Case.id, Case.participant_id), {"b_bsns": bsns}
        ).all()
        marks: list[dict[str, Any]] = []
        if case_ids and exclusions:
            by_person = dict(conn.execute(_IDS, {"b_bsns": list(exclusions)}).all())
            marks = [{"b_id": cid, "b_reason": exclusions[by_person[pid]]}
                     for cid, pid in case_ids if pid in by_person]
            if marks:
                write_many(conn, _MARK_EXCLUDED, marks)
        case_ids = [cid for cid, _ in case_ids]
        recorded_now = engine.recorded_now()
        if case_ids:
            recorded = literal(recorded_now, UTCDateTime())
            opening = select(
                Case.id, literal(1), moment, recorded, literal(actor.name), literal("open"),
                literal(initial),
                literal({"source": "cohort import", "file": filename}, JSONType),
            ).where(Case.id.in_(bindparam("b_ids", expanding=True)))
            conn.execute(insert(Event).from_select(
                ["case_id", "seq", "at", "recorded_at", "actor", "trigger", "to_state", "data"],
                opening,
            ), {"b_ids": case_ids})
        if marks:
            # Why the person is kept out of waves is part of the case file's story.
            write_many(conn, _INSERT_EVENTS, [{
                "case_id": mark["b_id"], "seq": 2, "at": selected,
                "recorded_at": recorded_now,
                "actor": actor.name, "trigger": EXCLUDE, "from_state": initial,
                "to_state": initial, "data": {"reason": mark["b_reason"]},
            } for mark in marks])
    return len(case_ids), len(batch) - len(case_ids), [mark["b_reason"] for mark in marks]
