"""Reports as rows: for CSV (the keys, the Dutch label, plain numbers) and for people (Dutch
words, the partners and states as the route files name them, Dutch numbers and amounts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from casework.display import dutch_date, euro, month_label, number, percent

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
_AGE_LABELS = {"under_27": "jonger dan 27", "27_and_over": "27 en ouder", "unknown": "onbekend"}
_FLAG_LABELS = {"moved": "verhuisd", "deceased": "overleden",
               "wij_team_contact": "in contact met sociaal team", "excluded": "uitgesloten"}
# What started after a referral, when the route file gives the activity no label of its own.
ACTIVITY_LABELS = {"volunteering": "vrijwilligerswerk", "participation_job": "participatiebaan",
                   "work": "werk", "part_time_self_employment": "parttime ondernemerschap",
                   "education": "opleiding", "other": "anders", "outflow": "uitstroom"}
UNASSIGNED_LABEL = "niet toegewezen"

__all__ = [
    "ACTIVITY_LABELS",
    "FOLLOW_UP_LABELS",
    "OUTCOME_LABELS",
    "REFERRAL_COLUMNS",
    "RESPONSE_COLUMNS",
    "VARIANT_LABELS",
    "Labels",
    "display_rows",
    "dutch_date",
    "month_label",
    "table_rows",
]


@dataclass(frozen=True)
class Labels:
    """The Dutch words of the route files for what the tables name (by key)."""

    partners: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    activities: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, str] = field(default_factory=dict)

    def partner(self, key: str) -> str:
        return self.partners.get(key, key)

    def activity(self, key: str) -> str:
        return self.activities.get(key) or ACTIVITY_LABELS.get(key, key)


def table_rows(report: dict[str, Any], labels: Labels | None = None) -> list[list[Any]]:
    """Return the report as rows for CSV (the first row is the header): keys and plain
    numbers, with the Dutch label where a row has one."""
    return _CSV[report["report"]](report, labels or Labels())


def display_rows(report: dict[str, Any], labels: Labels | None = None) -> list[list[str]]:
    """Return the report as rows for people (the first row is the header): Dutch words,
    Dutch numbers and amounts; sub-rows ('waarvan') indented under their row."""
    return _PEOPLE[report["report"]](report, labels or Labels())


def _count(value: int | None) -> str:
    return number(value) if value is not None else ""


def is_figure(text: str) -> bool:
    """Return True when a cell of a human table holds a figure (right-aligned): 1.427,
    66,7, € 12.810,96, – ."""
    return bool(text) and all(c.isdigit() or c in ".,-\u2013\u20ac " for c in text)


# --- CSV ---------------------------------------------------------------------------------


def _outcomes(report: dict[str, Any], labels: Labels) -> list[list[Any]]:
    rows: list[list[Any]] = [["measure", "label", "number"]]
    rows += [[key, label, report[key]] for key, label in OUTCOME_LABELS
             if key != "became_active"]
    for partner, count in report["referrals"]["per_partner"].items():
        rows.append([f"referrals.{partner}", f"Verwezen naar {labels.partner(partner)}", count])
    rows.append(["referrals.total", "Verwijzingen totaal", report["referrals"]["total"]])
    rows.append(["became_active", "Actief geworden", report["became_active"]])
    return rows


def _response(report: dict[str, Any], labels: Labels) -> list[list[Any]]:
    rows: list[list[Any]] = [["group", "key", *[key for key, _ in RESPONSE_COLUMNS]]]
    for group, items in (("wijk", report["per_wijk"]), ("variant", report["per_variant"])):
        for item in items:
            rows.append([group, item[group], *[item[key] for key, _ in RESPONSE_COLUMNS]])
    return rows


def _referrals(report: dict[str, Any], labels: Labels) -> list[list[Any]]:
    rows: list[list[Any]] = [["partner", *[key for key, _ in REFERRAL_COLUMNS],
                              "started_per_kind"]]
    for item in report["per_partner"]:
        kinds = ", ".join(f"{k} {n}" for k, n in item["started_per_kind"].items())
        rows.append([item["partner"], *[item[key] for key, _ in REFERRAL_COLUMNS], kinds])
    rows.append(["total", *[report["total"][key] for key, _ in REFERRAL_COLUMNS], ""])
    return rows


def _follow_up(report: dict[str, Any], labels: Labels) -> list[list[Any]]:
    return [["measure", "label", "number"],
            *[[key, label, report[key]] for key, label in FOLLOW_UP_LABELS]]


def _caseload(report: dict[str, Any], labels: Labels) -> list[list[Any]]:
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


def _outflow(report: dict[str, Any], labels: Labels) -> list[list[Any]]:
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


def _worklist(report: dict[str, Any], labels: Labels) -> list[list[Any]]:
    rows: list[list[Any]] = [["worker", "kind", "open", "overdue", "oldest_due"]]
    rows += [[r["worker"], r["kind"], r["open"], r["overdue"], r["oldest_due"]]
             for r in report["per_worker"]]
    rows.append(["total", "", report["open"], report["overdue"], ""])
    return rows


_CSV: dict[str, Callable[[dict[str, Any], Labels], list[list[Any]]]] = {
    "outcomes": _outcomes, "response": _response, "referrals": _referrals,
    "follow-up": _follow_up, "caseload": _caseload, "outflow": _outflow, "worklist": _worklist,
}


# --- people ------------------------------------------------------------------------------


def _outcomes_people(report: dict[str, Any], labels: Labels) -> list[list[str]]:
    rows = [["", "Aantal"]]
    rows += [[label, _count(report[key])] for key, label in OUTCOME_LABELS
             if key != "became_active"]
    rows.append(["Verwijzingen", _count(report["referrals"]["total"])])
    rows += [[f"  naar {labels.partner(partner)}", _count(count)]
             for partner, count in report["referrals"]["per_partner"].items()]
    rows.append(["Actief geworden", _count(report["became_active"])])
    return rows


def _response_line(name: str, item: dict[str, Any]) -> list[str]:
    return [name, *[_count(item[key]) for key, _ in RESPONSE_COLUMNS[:-1]],
            percent(item["response_pct"])]


def _response_people(report: dict[str, Any], labels: Labels) -> list[list[str]]:
    rows = [["Wijk", *[label for _, label in RESPONSE_COLUMNS]]]
    rows += [_response_line(item["wijk"], item) for item in report["per_wijk"]]
    total = {key: sum(item[key] for item in report["per_wijk"])
             for key, _ in RESPONSE_COLUMNS[:-1]}
    total["response_pct"] = (round(100.0 * total["spoken"] / total["approached"], 1)
                             if total["approached"] else None)
    rows.append(_response_line("Totaal", total))
    rows += [_response_line(f"variant {VARIANT_LABELS.get(item['variant'], item['variant'])}",
                            item) for item in report["per_variant"]]
    return rows


def _referrals_people(report: dict[str, Any], labels: Labels) -> list[list[str]]:
    # A column per partner, so the table fits a terminal.
    partners = report["per_partner"]
    rows = [["", *[labels.partner(p["partner"]) for p in partners], "Totaal"]]
    for key, label in REFERRAL_COLUMNS:
        rows.append([label, *[_count(p[key]) for p in partners], _count(report["total"][key])])
        if key == "started":
            kinds = sorted({k for p in partners for k in p["started_per_kind"]})
            for kind in kinds:
                counts = [p["started_per_kind"].get(kind, 0) for p in partners]
                rows.append([f"  waarvan {labels.activity(kind)}", *map(_count, counts),
                             _count(sum(counts))])
    return rows


def _follow_up_people(report: dict[str, Any], labels: Labels) -> list[list[str]]:
    return [["", "Aantal"], *[[label, _count(report[key])] for key, label in FOLLOW_UP_LABELS]]


def _worker(name: str) -> str:
    return UNASSIGNED_LABEL if name == "-" else name


def _caseload_people(report: dict[str, Any], labels: Labels) -> list[list[str]]:
    rows = [["Medewerker", "Status", "Aantal"]]
    for worker in report["per_worker"]:
        for state, count in worker["per_state"].items():
            rows.append([_worker(worker["worker"]), labels.states.get(state, state),
                         _count(count)])
    rows.append(["Open trajecten", "", _count(report["open"])])
    rows.append(["Personen", "", _count(report["persons"])])
    rows += [[f"  {_AGE_LABELS.get(key, key)}", "", _count(count)]
             for key, count in report["age_groups"].items()]
    rows += [[f"  {_FLAG_LABELS.get(key, key)}", "", _count(count)]
             for key, count in report["flags"].items()]
    return rows


def _outflow_people(report: dict[str, Any], labels: Labels) -> list[list[str]]:
    rows = [["Maand", "Personen", "Fte", "Besparing"]]
    rows += [[month_label(m["month"]), _count(m["persons"]), number(m["fte"]),
              euro(m["savings"])] for m in report["by_month"]]
    earlier = report["earlier_years"]
    rows.append([f"uitgestroomd vóór {report['year']}", _count(earlier["persons"]),
                 number(earlier["fte"]), euro(earlier["savings"])])
    rows.append([f"Totaal {report['year']}", _count(report["persons"]),
                 number(report["fte"]), euro(report["savings"])])
    check = report["sustainability"]
    if check["checked"]:
        rows.append(["na 6 maanden nog uit de uitkering", _count(check["still_off_benefit"]),
                     "", ""])
        rows.append(["na 6 maanden terug in de uitkering", _count(check["back_on_benefit"]),
                     "", ""])
    return rows


def _worklist_people(report: dict[str, Any], labels: Labels) -> list[list[str]]:
    rows = [["Medewerker", "Werk", "Open", "Te laat", "Oudste datum"]]
    rows += [[_worker(r["worker"]), labels.tasks.get(r["kind"], r["kind"]), _count(r["open"]),
              _count(r["overdue"]), r["oldest_due"] or ""] for r in report["per_worker"]]
    rows.append(["Totaal", "", _count(report["open"]), _count(report["overdue"]), ""])
    return rows


_PEOPLE: dict[str, Callable[[dict[str, Any], Labels], list[list[str]]]] = {
    "outcomes": _outcomes_people, "response": _response_people,
    "referrals": _referrals_people, "follow-up": _follow_up_people,
    "caseload": _caseload_people, "outflow": _outflow_people, "worklist": _worklist_people,
}
