"""Every derived table adds up: sub-rows ('waarvan') within their rows, the parts of a total
summing to it, the wijken (workers, partners, months) summing to the whole.

``table_problems(report)`` takes any report as ``run_report`` returns it and lists what does
not add up, in words; an empty list is a table that holds. A season simulation can call it
every day; the tests call it on each report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# Money and fte are rounded per row (to cents and hundredths): their sums may differ by that.
_CENT = 0.01


def table_problems(report: dict[str, Any]) -> list[str]:
    """Return what does not add up in the report (empty: everything does)."""
    check = _CHECKS.get(report.get("report", ""))
    if check is None:
        return []
    problems: list[str] = []
    check(report, _Problems(report["report"], problems))
    return problems


class _Problems:
    """Collects the problems of one report, each naming the figures involved."""

    def __init__(self, name: str, found: list[str]) -> None:
        self.name, self.found = name, found

    def within(self, part: int, whole: int, part_name: str, whole_name: str) -> None:
        if part > whole:
            self.found.append(f"{self.name}: {part_name} ({part}) is more than "
                              f"{whole_name} ({whole})")

    def equal(self, got: float, expected: float, got_name: str, expected_name: str,
              tolerance: float = 0) -> None:
        if abs(got - expected) > tolerance:
            self.found.append(f"{self.name}: {got_name} ({_figure(got)}) is not "
                              f"{expected_name} ({_figure(expected)})")

    def sums(self, rows: Iterable[dict[str, Any]], total: dict[str, Any],
             keys: Iterable[str], rows_name: str, tolerance: float = 0) -> None:
        items = list(rows)
        for key in keys:
            self.equal(sum(row[key] for row in items), total[key],
                       f"the sum of {key} over the {rows_name}", f"the total {key}", tolerance)


def _figure(value: float) -> str:
    return str(round(value, 2)) if isinstance(value, float) else str(value)


def _outcomes(r: dict[str, Any], p: _Problems) -> None:
    p.within(r["spoken"], r["approached"], "spoken", "approached")
    p.within(r["socially_active"] + r["work_potential"] + r["not_active"], r["spoken"],
             "socially active + work potential + not active", "spoken")
    p.within(r["socially_active_with_potential"], r["socially_active"],
             "socially active with participation potential", "socially active")
    p.within(r["not_active_with_potential"], r["not_active"],
             "not active with participation potential", "not active")
    p.equal(r["participation_potential_total"],
            r["socially_active_with_potential"] + r["not_active_with_potential"],
            "participation_potential_total",
            "socially_active_with_potential + not_active_with_potential")
    p.equal(r["potential_self"] + r["potential_supported"], r["participation_potential_total"],
            "potential_self + potential_supported", "participation_potential_total")
    p.equal(sum(r["referrals"]["per_partner"].values()), r["referrals"]["total"],
            "the sum of referrals per partner", "referrals.total")
    p.sums(r["per_wijk"], r, ("approached", "spoken", "socially_active"), "wijken")


def _response(r: dict[str, Any], p: _Problems) -> None:
    keys = ("approached", "spoken", "declined", "unreachable")
    for group in ("per_wijk", "per_variant"):
        for row in r[group]:
            name = row.get("wijk") or row.get("variant")
            for key in keys[1:]:
                p.within(row[key], row["approached"], f"{key} in {name}", "approached there")
            expected = (round(100.0 * row["spoken"] / row["approached"], 1)
                        if row["approached"] else None)
            if row["response_pct"] != expected:
                p.found.append(f"response: response_pct in {name} ({row['response_pct']}) is "
                               f"not spoken of approached ({expected})")
    # Every approached case is in one wijk and in one variant: both groupings add up alike.
    by_variant = {key: sum(row[key] for row in r["per_variant"]) for key in keys}
    p.sums(r["per_wijk"], by_variant, keys, "wijken (against the variants)")


def _referrals(r: dict[str, Any], p: _Problems) -> None:
    keys = ("referred", "started", "no_interest", "unreachable", "referred_to_care",
            "referred_on", "closed_otherwise", "in_progress")
    for row in r["per_partner"]:
        for key in keys[1:]:
            p.within(row[key], row["referred"], f"{key} of {row['partner']}",
                     "referred to them")
        for kind, count in row["started_per_kind"].items():
            p.within(count, row["started"], f"started {kind} of {row['partner']}",
                     "started there")
    p.sums(r["per_partner"], r["total"], keys, "partners")


def _follow_up(r: dict[str, Any], p: _Problems) -> None:
    for key in ("became_active", "to_social_team", "taking_steps", "not_active", "no_contact"):
        if r[key] < 0:
            p.found.append(f"follow-up: {key} is negative ({r[key]})")


def _caseload(r: dict[str, Any], p: _Problems) -> None:
    for worker in r["per_worker"]:
        p.equal(sum(worker["per_state"].values()), worker["open"],
                f"the sum over the states of {worker['worker']}", "their open cases")
    p.equal(sum(w["open"] for w in r["per_worker"]), r["open"], "the sum over the workers",
            "open")
    p.within(r["persons"], r["open"], "persons", "open cases")
    p.equal(sum(r["age_groups"].values()), r["persons"], "the sum of the age groups",
            "persons")
    for flag, count in r["flags"].items():
        p.within(count, r["persons"], f"flag {flag}", "persons")


def _outflow(r: dict[str, Any], p: _Problems) -> None:
    months = r["by_month"]
    p.equal(sum(m["fte"] for m in months), r["fte"], "the sum of fte over the months",
            "the fte of the year", _CENT * len(months))
    p.equal(sum(m["savings"] for m in months) + r["earlier_years"]["savings"], r["savings"],
            "the savings of the months and earlier years", "the savings of the year",
            _CENT * (len(months) + 1))
    # A person counts once in the year, but once in each month they left in.
    p.within(r["persons"], sum(m["persons"] for m in months), "persons in the year",
             "the sum of persons over the months")
    check = r["sustainability"]
    p.within(check["still_off_benefit"], check["checked"], "still off benefit", "checked")
    p.within(check["back_on_benefit"], check["checked"], "back on benefit", "checked")


def _worklist(r: dict[str, Any], p: _Problems) -> None:
    for row in r["per_worker"]:
        p.within(row["overdue"], row["open"], f"overdue {row['kind']} of {row['worker']}",
                 "open")
    p.sums(r["per_worker"], r, ("open", "overdue"), "workers")


_CHECKS: dict[str, Callable[[dict[str, Any], _Problems], None]] = {
    "outcomes": _outcomes, "response": _response, "referrals": _referrals,
    "follow-up": _follow_up, "caseload": _caseload, "outflow": _outflow, "worklist": _worklist,
}
