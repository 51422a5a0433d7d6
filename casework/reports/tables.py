"""Reports as rows for a terminal table or CSV, with the Dutch words of the council reports."""

from __future__ import annotations

from datetime import date
from typing import Any

OUTCOME_LABELS = (
    ("approached", "Benaderd"),
    ("spoken", "Gesproken"),
    ("socially_active", "Maatschappelijk actief"),
    ("socially_active_with_potential", "  waarvan met participatiepotentieel"),
    ("work_potential", "Arbeidspotentieel"),
    ("not_active", "Niet maatschappelijk actief"),
    ("not_active_with_potential", "  waarvan met participatiepotentieel"),
    ("participation_potential_total", "Totaal participatiepotentieel"),
    ("potential_self", "  zelf aan de slag"),
    ("potential_supported", "  met ondersteuning"),
    ("became_active", "Actief geworden"),
)
RESPONSE_COLUMNS = (
    ("approached", "Benaderd"), ("spoken", "Gesproken"), ("declined", "Afgemeld"),
    ("unreachable", "Onbereikbaar"), ("response_pct", "Respons %"),
)
REFERRAL_COLUMNS = (
    ("referred", "Verwezen"), ("started", "Activiteit gestart"),
    ("no_interest", "Geen interesse"), ("unreachable", "Onbereikbaar"),
    ("referred_to_care", "Doorverwezen naar zorg"), ("referred_on", "Doorverwezen elders"),
    ("closed_otherwise", "Anders afgesloten"), ("in_progress", "Loopt nog"),
)
FOLLOW_UP_LABELS = (
    ("called", "Nagebeld"), ("became_active", "Actief geworden"),
    ("to_social_team", "Naar het sociaal team"), ("taking_steps", "Zet zelf stappen"),
    ("not_active", "Niet actief"), ("no_contact", "Geen contact"),
)
VARIANT_LABELS = {"with_sentence": "met zin over vrijwilligheid",
                  "without_sentence": "zonder zin over vrijwilligheid", "unknown": "onbekend"}
AGE_LABELS = {"under_27": "jonger dan 27", "27_and_over": "27 en ouder", "unknown": "onbekend"}
FLAG_LABELS = {"moved": "verhuisd", "deceased": "overleden",
               "wij_team_contact": "in contact met sociaal team", "excluded": "uitgesloten"}
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")


def dutch_date(day: date | str) -> str:
    """Return a date as '24 november 2026'."""
    from babel.dates import format_date

    return format_date(date.fromisoformat(day) if isinstance(day, str) else day,
                       "d MMMM y", locale="nl_NL")


def month_label(month: str) -> str:
    """Return '2030-06' as 'juni 2030'."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def table_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Return the report as rows (the first row is the header)."""
    return _BUILDERS[report["report"]](report)


def display_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Return the rows for a terminal table: as table_rows, but the referrals table turned
    (a column per partner) so it fits a terminal."""
    if report["report"] != "referrals":
        return table_rows(report)
    partners = report["per_partner"]
    rows: list[list[Any]] = [["", *[p["label"] for p in partners], "Totaal"]]
    for key, label in REFERRAL_COLUMNS:
        rows.append([label, *[p[key] for p in partners], report["total"][key]])
        if key == "started":
            kinds = sorted({k for p in partners for k in p["started_per_kind"]})
            for kind in kinds:
                counts = [p["started_per_kind"].get(kind, 0) for p in partners]
                rows.append([f"  waarvan {kind}", *counts, sum(counts)])
    return rows


def _outcomes(report: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [["measure", "label", "number"]]
    rows += [[key, label, report[key]] for key, label in OUTCOME_LABELS
             if key != "became_active"]
    for partner, count in report["referrals"]["per_partner"].items():
        rows.append([f"referrals.{partner}", f"Verwezen naar {partner}", count])
    rows.append(["referrals.total", "Verwijzingen totaal", report["referrals"]["total"]])
    rows.append(["became_active", "Actief geworden", report["became_active"]])
    return rows


def _response(report: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [["group", "key", *[key for key, _ in RESPONSE_COLUMNS]]]
    for group, items in (("wijk", report["per_wijk"]), ("variant", report["per_variant"])):
        for item in items:
            rows.append([group, item[group], *[item[key] for key, _ in RESPONSE_COLUMNS]])
    return rows


def _referrals(report: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [["partner", *[key for key, _ in REFERRAL_COLUMNS],
                              "started_per_kind"]]
    for item in report["per_partner"]:
        kinds = ", ".join(f"{k} {n}" for k, n in item["started_per_kind"].items())
        rows.append([item["partner"], *[item[key] for key, _ in REFERRAL_COLUMNS], kinds])
    rows.append(["total", *[report["total"][key] for key, _ in REFERRAL_COLUMNS], ""])
    return rows


def _follow_up(report: dict[str, Any]) -> list[list[Any]]:
    return [["measure", "label", "number"],
            *[[key, label, report[key]] for key, label in FOLLOW_UP_LABELS]]


def _caseload(report: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [["group", "key", "state", "number"]]
    for worker in report["per_worker"]:
        for state, count in worker["per_state"].items():
            rows.append(["worker", worker["worker"], state, count])
    rows.append(["total", "open", "", report["open"]])
    for key, count in report["age_groups"].items():
        rows.append(["age", key, "", count])
    for key, count in report["flags"].items():
        rows.append(["flag", key, "", count])
    return rows


def _outflow(report: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [["month", "persons", "fte", "savings"]]
    rows += [[m["month"], m["persons"], m["fte"], m["savings"]] for m in report["by_month"]]
    earlier = report["earlier_years"]
    rows.append([f"before {report['year']}", earlier["persons"], earlier["fte"],
                 earlier["savings"]])
    rows.append([f"total {report['year']}", report["persons"], report["fte"],
                 report["savings"]])
    check = report["sustainability"]
    if check["checked"]:
        rows.append(["after 6 months: still off benefit", check["still_off_benefit"], "", ""])
        rows.append(["after 6 months: back on benefit", check["back_on_benefit"], "", ""])
    return rows


def _worklist(report: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [["worker", "kind", "open", "overdue", "oldest_due"]]
    rows += [[r["worker"], r["kind"], r["open"], r["overdue"], r["oldest_due"]]
             for r in report["per_worker"]]
    rows.append(["total", "", report["open"], report["overdue"], ""])
    return rows


_BUILDERS = {
    "outcomes": _outcomes, "response": _response, "referrals": _referrals,
    "follow-up": _follow_up, "caseload": _caseload, "outflow": _outflow, "worklist": _worklist,
}
