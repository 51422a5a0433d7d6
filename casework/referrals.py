"""Referrals for a partner: the list (file) a partner receives holds only consented people."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from casework.access import log_access
from casework.db import unit_of_work
from casework.engine import Engine
from casework.models import Case, Consent, Participant, Referral
from casework.people import address_line, display_name
from casework.permissions import Actor

OPEN_STATUSES = ("sent", "accepted")


def partner_referrals(engine: Engine, actor: Actor, partner: str) -> dict[str, Any]:
    """Return the open referrals to partner of people whose consent to share holds now.

    Referrals whose consent is missing or withdrawn are left out and counted, never listed.
    The export is logged as one read of all listed cases."""
    actor.require("referral.export")
    scope = f"share:{partner}"
    reach = actor.case_filter("referral.export")  # the actor's projects
    with unit_of_work(engine) as conn:
        rows = conn.execute(
            select(Referral.id, Referral.case_id, Referral.status, Referral.referred_at,
                   Case.participant_id, Case.workflow_id, Participant.initials,
                   Participant.prefix, Participant.surname, Participant.street,
                   Participant.house_number, Participant.house_number_suffix,
                   Participant.postcode, Participant.city, Participant.phone,
                   Participant.email)
            .join(Case, Case.id == Referral.case_id)
            .join(Participant, Participant.id == Case.participant_id)
            .where(Referral.partner == partner, Referral.status.in_(OPEN_STATUSES),
                   *([] if reach is None else [reach]))
            .order_by(Referral.referred_at, Referral.id)
        ).all()
        people = sorted({row.participant_id for row in rows})
        consented: dict[int, bool] = {}
        if people:
            for row in conn.execute(
                select(Consent.participant_id, Consent.granted)
                .where(Consent.participant_id.in_(people), Consent.scope == scope)
                .order_by(Consent.id)
            ):
                consented[row.participant_id] = row.granted
        listed = [row for row in rows if consented.get(row.participant_id)]
        if listed:
            log_access(conn, actor, "referral export", [row.case_id for row in listed],
                       f"referral to {partner}", engine.now())
    return {
        "partner": partner,
        "referrals": [{
            "referral_id": row.id, "case_id": row.case_id, "status": row.status,
            "referred_at": row.referred_at.isoformat(),
            "name": display_name(row.initials, row.prefix, row.surname),
            "address": address_line(row.street, row.house_number, row.house_number_suffix),
            "postcode": row.postcode, "city": row.city, "phone": row.phone,
            "email": row.email,
        } for row in listed],
        "left_out_without_consent": len(rows) - len(listed),
    }
