"""Finding a person's cases and correcting their contact data.

Finding answers only with the cases the actor may see: a person outside their scope is
answered exactly as an unknown one, so a search never tells whether someone is known. A
correction is an event on the case holding the old and the new value (the history keeps what
was there), checked like a cohort row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, or_, select, update

from casework import name_index
from casework.access import log_access
from casework.cohort import (
    MAX_LENGTH,
    RowError,
    check_email,
    check_house_number,
    check_phone,
    check_postcode,
    normalise_bsn,
)
from casework.db import unit_of_work
from casework.engine import Engine
from casework.errors import InvalidData
from casework.letters import case_reference
from casework.models import Case, Participant
from casework.people import address_line, display_name
from casework.permissions import Actor
from casework.text import shown, unclean

QUERY_HELP = ("a BSN, a name, a postcode and house number (9711 AB 12) or a letter's "
              "reference (KIK-000123)")
_REFERENCE = re.compile(r"^([A-Z]{1,10})-(\d{1,12})$")
_POSTCODE_NUMBER = re.compile(
    r"^([1-9][0-9]{3})\s*([A-Z]{2})[\s,]*(\d{1,5})(?:\s*-?\s*([A-Z0-9]{1,10}))?$")
_ADDRESS_LINE = re.compile(r"^(.*?\S)\s+(\d{1,5})(?:\s*-?\s*([A-Za-z0-9]{1,10}))?$")
MAX_CASE_ID = 2**31 - 1
CORRECT_CONTACT = "correct_contact"
# The participant's columns a correction may change; the event data holds one key per column
# changed ({"old": ..., "new": ...}), all personal: a purge blanks them.
CONTACT_FIELDS = ("phone", "email", "street", "house_number", "house_number_suffix",
                  "postcode", "city")


@dataclass(frozen=True)
class Query:
    """What a search text names: how it matches, and the SQL condition."""

    kind: str
    condition: Any
    letters: str = ""  # of a reference: the route's letters (KIK)
    word: str = ""  # of a name: its longest word (lower case), for the trigram index


def parse_query(text: str, sqlite: bool = False) -> Query:
    """Return what the text asks for: a BSN, a reference, a postcode and house number, or
    a name; InvalidData when it is none (never repeating a number that may be a BSN).
    ``sqlite``: the condition is for SQLite."""
    problem = unclean(text)
    if problem:
        raise InvalidData(f"the search contains {problem}; remove it")
    query = " ".join(text.split())
    squeezed = query.replace(" ", "").replace(".", "")
    if not query:
        raise InvalidData(f"give what to look for: {QUERY_HELP}")
    if squeezed.isdigit():
        try:
            return Query("bsn", Participant.bsn == normalise_bsn(squeezed))
        except RowError as exc:
            raise InvalidData(f"a number alone is looked up as a BSN: {exc.detail}; or give "
                              f"{QUERY_HELP}") from None
    upper = query.upper()
    reference = _REFERENCE.match(upper.replace(" ", ""))
    if reference:
        number = int(reference.group(2))
        # A number beyond any case number (the column's range) is a case that is not there.
        condition = Case.id == number if number <= MAX_CASE_ID else false()
        return Query("reference", condition, reference.group(1))
    address = _POSTCODE_NUMBER.match(upper)
    if address:
        conditions = [Participant.postcode == f"{address.group(1)} {address.group(2)}",
                      Participant.house_number == int(address.group(3))]
        if address.group(4):
            conditions.append(func.upper(func.coalesce(Participant.house_number_suffix, ""))
                              == address.group(4))
        return Query("address", conditions)
    if len(query) < 2:
        raise InvalidData(f"give at least two letters of a name, or {QUERY_HELP}")
    # A word of the query (it has no spaces) lies within the initials, the prefix or the
    # surname: the longest one, looked for in the columns as stored, is a cheap first sieve.
    # SQLite's LIKE ignores ASCII case and its lower() changes only ASCII, so there the
    # columns need no lower() (which costs a copy of every value).
    name = query.lower()
    words = name.split(" ")

    def folded(column: Any) -> Any:
        return column if sqlite else func.lower(column)

    longest = max(words, key=len)
    somewhere = or_(*(folded(column).contains(longest, autoescape=True) for column in (
        Participant.surname, Participant.prefix, Participant.initials)))
    if len(words) == 1:
        return Query("name", somewhere, word=longest)
    # More words: "initials prefix surname" with single spaces holds them all.
    full = func.lower(func.coalesce(Participant.initials, "") + " "
                      + func.coalesce(Participant.prefix, "") + " " + Participant.surname)
    return Query("name", and_(somewhere, func.replace(full, "  ", " ").contains(
        name, autoescape=True)), word=longest)


def find_cases(engine: Engine, actor: Actor, text: str, limit: int | None = 50) -> dict[str, Any]:
    """Return the cases of the people the text names that the actor may see, by case number;
    logged like a listing. Nobody outside the actor's scope is ever counted."""
    actor.require("case.read")
    query = parse_query(text, sqlite=engine.db.dialect.name == "sqlite")
    conditions = list(query.condition) if isinstance(query.condition, list) else [
        query.condition]
    scope = actor.case_filter()
    statement = (
        select(Case.id, Case.workflow_id, Case.state, Case.wijk, Case.assigned_to,
               Case.closed_at, Participant.initials, Participant.prefix, Participant.surname,
               Participant.street, Participant.house_number, Participant.house_number_suffix,
               Participant.postcode, Participant.city)
        .join(Participant, Participant.id == Case.participant_id).order_by(Case.id)
    )
    with unit_of_work(engine) as conn:
        if query.kind == "address":
            # The people at the address first (indexed): without statistics SQLite would
            # rather walk every case in the actor's scope.
            people = conn.execute(select(Participant.id).where(*conditions)).scalars().all()
            conditions = [Participant.id.in_(people)]
        elif query.kind == "name":
            # The people whose names hold the word's trigrams first (SQLite; PostgreSQL's
            # trigram indexes serve the condition itself), unless they are too many; the
            # condition then decides exactly as without them.
            people = name_index.people(conn, query.word)
            if people is not None:
                conditions.append(Participant.id.in_(people))
                if scope is not None:
                    scope = name_index.not_to_start_from(scope)
            if conn.dialect.name == "postgresql":
                # The count needs every match anyway: ordered by an expression, PostgreSQL
                # finds them through its trigram indexes or the scope and sorts them, rather
                # than walking every case in number order for a limit that cannot stop it.
                statement = statement.order_by(None).order_by(Case.id + 0)
        if scope is not None:
            conditions.append(scope)
        statement = statement.where(*conditions)
        if query.kind == "reference":
            # At most one case; its letters (KIK) must be those of its route.
            rows = [r for r in conn.execute(statement).all()
                    if case_reference(r.workflow_id, r.id).split("-")[0] == query.letters]
            total = len(rows)
        elif not limit:
            rows = conn.execute(statement).all()
            total = len(rows)
        else:
            # Counted in the same pass as the first rows are found (a window over the
            # matches), not by a second query.
            rows = conn.execute(statement.add_columns(func.count().over().label("total"))
                                .limit(limit)).all()
            total = rows[0].total if rows else 0
        cases = [{
            "id": r.id, "reference": case_reference(r.workflow_id, r.id),
            "workflow": r.workflow_id, "state": r.state, "wijk": r.wijk,
            "assigned_to": r.assigned_to, "closed": r.closed_at is not None,
            "name": display_name(r.initials, r.prefix, r.surname),
            "address": address_line(r.street, r.house_number, r.house_number_suffix),
            "postcode": r.postcode, "city": r.city,
        } for r in rows]
        if cases:
            log_access(conn, actor, "find", [c["id"] for c in cases],
                       "project " + ", ".join(sorted({c["workflow"] for c in cases})),
                       engine.now())
    return {"matched_by": query.kind, "total": total, "shown": len(cases), "cases": cases}


# The contact options in Dutch, and what a correct value looks like (for the web front).
CONTACT_WORDS = {"--phone": "Het telefoonnummer", "--email": "Het e-mailadres",
                 "--address": "Het adres", "--postcode": "De postcode", "--city": "De plaats"}
CONTACT_HINTS = {
    "--phone": "Het telefoonnummer klopt niet; geef een Nederlands nummer, zoals 06 12345678 "
               "of 050 1234567.",
    "--email": "Het e-mailadres klopt niet; zoals naam@voorbeeld.nl.",
    "--postcode": "De postcode klopt niet; zoals 9711 AB.",
    "--address": "Geef straat en huisnummer, zoals 'Kerkstraat 12' of 'Kerkstraat 12-A'.",
}


def contact_changes(phone: str | None = None, email: str | None = None,
                    address: str | None = None, postcode: str | None = None,
                    city: str | None = None) -> dict[str, Any]:
    """Return the participant columns the options set, checked as a cohort row is (an empty
    phone or e-mail removes it); InvalidData naming the option."""
    given = {"--phone": phone, "--email": email, "--address": address,
             "--postcode": postcode, "--city": city}
    if all(value is None for value in given.values()):
        raise InvalidData("give what to correct: --phone, --email, --address, --postcode "
                          "or --city")
    for option, value in given.items():
        problem = unclean(value or "")
        if problem:
            raise InvalidData(f"{option} contains {problem}; remove it",
                              says=f"{CONTACT_WORDS[option]} bevat een teken dat niet in tekst "
                                   "hoort (een stuurteken); haal het weg.")
    values: dict[str, Any] = {}
    try:
        if phone is not None:
            values["phone"] = check_phone(phone)
        if email is not None:
            values["email"] = check_email(email)
        if address is not None:
            values.update(_address(address))
        if postcode is not None:
            values["postcode"] = check_postcode(postcode)
    except RowError as exc:
        option = "--" + exc.detail.split(" ", 1)[0]
        raise InvalidData(f"{option}: {exc.detail}",
                          says=CONTACT_HINTS.get(option, exc.detail)) from None
    if city is not None:
        if not city.strip():
            raise InvalidData("--city is empty; give the city", says="Vul de plaats in.")
        if len(city.strip()) > MAX_LENGTH["city"]:
            raise InvalidData(f"--city is longer than {MAX_LENGTH['city']} characters",
                              says=f"De plaats is langer dan {MAX_LENGTH['city']} tekens.")
        values["city"] = city.strip()
    return values


def _address(text: str) -> dict[str, Any]:
    """Return street, house number and suffix of an address line ('Kerkstraat 12-A')."""
    match = _ADDRESS_LINE.match(text.strip())
    if match is None:
        raise InvalidData(f"--address {shown(text.strip())} is not a street and house number, "
                          "e.g. 'Kerkstraat 12' or 'Kerkstraat 12-A'",
                          says=CONTACT_HINTS["--address"])
    street, number, suffix = match.groups()
    try:
        house = check_house_number(number)
    except RowError as exc:
        raise InvalidData(f"--address: {exc.detail}",
                          says=CONTACT_HINTS["--address"]) from None
    for name, value in (("street", street), ("house_number_suffix", suffix or "")):
        if len(value) > MAX_LENGTH[name]:
            raise InvalidData(f"--address: the {name.replace('_', ' ')} is longer than "
                              f"{MAX_LENGTH[name]} characters",
                              says=f"Straat of toevoeging is langer dan {MAX_LENGTH[name]} "
                                   "tekens.")
    return {"street": street, "house_number": house, "house_number_suffix": suffix or None}


def edit_contact(engine: Engine, actor: Actor, case_id: int, values: dict[str, Any],
                 note: str | None = None) -> dict[str, Any]:
    """Correct the contact data of a case's person: the participant changed and an event on
    the case holding each changed value's old and new text. Values as ``contact_changes``
    returns them; nothing is recorded when nothing differs."""
    actor.require("case.write")
    unknown = sorted(set(values) - set(CONTACT_FIELDS))
    if unknown:
        raise InvalidData(f"not contact data: {', '.join(unknown)}")
    problem = unclean(note or "", multiline=True)
    if problem:
        raise InvalidData(f"--note contains {problem}; remove it",
                          says="De toelichting bevat een teken dat niet in tekst hoort (een "
                               "stuurteken); haal het weg.")
    with unit_of_work(engine) as conn:
        case = engine.load_case_for(conn, case_id, actor, "case.write")
        person = conn.execute(select(Participant.__table__).where(
            Participant.__table__.c.id == case.participant_id)).one()
        if person.purged_at is not None:
            raise InvalidData(f"the person of case {case_id} was anonymised; nothing to correct",
                              says="De gegevens van deze persoon zijn gewist; er valt niets te "
                                   "corrigeren.")
        changed = {name: {"old": getattr(person, name), "new": value}
                   for name, value in values.items() if getattr(person, name) != value}
        if changed:
            conn.execute(update(Participant).where(Participant.id == person.id)
                         .values({name: change["new"] for name, change in changed.items()}))
            engine.record_event(conn, case, actor, CORRECT_CONTACT, changed, note)
        log_access(conn, actor, "correct contact", [case_id], f"project {case.workflow_id}",
                   engine.now())
    return {"case": case_id, "changed": changed}
