"""How a participant is shown: names and addresses as Dutch letters write them, BSNs masked."""

from __future__ import annotations

from typing import Any


def mask_bsn(bsn: str) -> str:
    """Return the BSN with all but the last three digits hidden ('******782')."""
    return "*" * (len(bsn) - 3) + bsn[-3:] if bsn else ""


def display_name(initials: str | None, prefix: str | None, surname: str) -> str:
    """Return 'J. de Vries' from its parts."""
    return " ".join(part for part in (initials, prefix, surname) if part)


def address_line(street: str, number: int, suffix: str | None) -> str:
    """Return 'Paterswoldseweg 12-A' style."""
    suffix = (suffix or "").strip()
    if suffix and not suffix.startswith("-") and not suffix[0].isalpha():
        suffix = "-" + suffix
    elif suffix and suffix[0].isalpha() and len(suffix) > 1:
        suffix = " " + suffix
    return f"{street} {number}{suffix}"


def person_dict(row: Any) -> dict[str, Any]:
    """Return the stable JSON form of a participant (BSN masked)."""
    return {
        "participant_id": row.id,
        "bsn_masked": mask_bsn(row.bsn),
        "name": display_name(row.initials, row.prefix, row.surname),
        "address": address_line(row.street, row.house_number, row.house_number_suffix),
        "postcode": row.postcode,
        "city": row.city,
        "phone": row.phone,
        "email": row.email,
        "wij_team_contact": bool(row.wij_team_contact),
        "last_guidance": row.last_guidance.isoformat() if row.last_guidance else None,
        "flag": row.flag,
    }
