"""Charts of the reports (matplotlib, PNG), labels in Dutch."""

from __future__ import annotations

from typing import IO, Any

from casework.display import dutch_date, euro, month_abbreviation, number
from casework.reports.tables import VARIANT_LABELS

CHARTS = ("outcomes", "response", "outflow")
_LIGHT, _DARK, _ACCENT = "#9bbbd9", "#1f5f99", "#d98c1f"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bars(axis: Any, names: list[str], series: list[tuple[str, list[float], str]]) -> None:
    width = 0.8 / len(series)
    positions = range(len(names))
    for i, (label, values, color) in enumerate(series):
        offset = (i - (len(series) - 1) / 2) * width
        axis.bar([p + offset for p in positions], values, width, label=label, color=color)
    axis.set_xticks(list(positions), names, rotation=30, ha="right")
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if not any(value for _, values, _ in series for value in values):
        axis.set_ylim(0, 1)  # nothing counted yet: an axis from 0, not ticks around it
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number(round(v))))
    axis.legend()


def _save(fig: Any, target: str | IO[bytes] | Any) -> None:
    fig.tight_layout()
    fig.savefig(target, dpi=110, format="png")
    _pyplot().close(fig)


def outcomes_chart(report: dict[str, Any], target: Any) -> None:
    """Per wijk: spoken and socially active (as in the source evaluation)."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(10, 4.5))
    rows = report["per_wijk"]
    _bars(axis, [r["wijk"] for r in rows], [
        ("gesproken", [r["spoken"] for r in rows], _LIGHT),
        ("maatschappelijk actief", [r["socially_active"] for r in rows], _DARK),
    ])
    axis.set_ylabel("personen")
    axis.set_title("Gesproken en maatschappelijk actief per wijk, tot en met "
                   + dutch_date(report["as_of"]))
    _save(fig, target)


def response_chart(report: dict[str, Any], target: Any) -> None:
    """Approached and spoken per wijk; response per invitation variant."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), width_ratios=(3, 1))
    rows = report["per_wijk"]
    _bars(left, [r["wijk"] for r in rows], [
        ("benaderd", [r["approached"] for r in rows], _LIGHT),
        ("gesproken", [r["spoken"] for r in rows], _DARK),
    ])
    left.set_title("Benaderd en gesproken per wijk")
    variants = report["per_variant"]
    right.bar([VARIANT_LABELS.get(r["variant"], r["variant"]).replace(" over ", "\nover ")
               for r in variants], [r["response_pct"] or 0 for r in variants], color=_ACCENT)
    right.set_title("Respons per variant (%)")
    right.set_ylim(0, 100)
    fig.suptitle(f"Respons tot en met {dutch_date(report['as_of'])}")
    _save(fig, target)


def outflow_chart(report: dict[str, Any], target: Any) -> None:
    """Persons leaving benefit per month of the year, with the fte."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(10, 4.5))
    months = report["by_month"]
    names = [month_abbreviation(m["month"]) for m in months]
    _bars(axis, names, [
        ("personen", [m["persons"] for m in months], _DARK),
        ("fte", [m["fte"] for m in months], _ACCENT),
    ])
    axis.set_title(f"Uitstroom uit de uitkering per maand, {report['year']} "
                   f"(besparing {report['year']}: {euro(report['savings'], cents=False)})")
    _save(fig, target)


def write_chart(report: dict[str, Any], target: Any) -> None:
    """Write the chart of a report that has one."""
    {"outcomes": outcomes_chart, "response": response_chart,
     "outflow": outflow_chart}[report["report"]](report, target)
