"""A rule from another package: examples/casework-rule-minimum-age is installed for real (pip into
a folder of its own) and casework, run as a separate process, finds it through the entry-point
group casework.rules: a route may name it, and it keeps minors out of waves and invitations."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import EXAMPLES, ROOT, WORKFLOWS, Env
from stdnum.nl import bsn as stdnum_bsn

EXAMPLE = EXAMPLES / "casework-rule-minimum-age"
WORKFLOW = "kansen-in-kaart"
HEADER = ("bsn,initials,prefix,surname,street,house_number,house_number_suffix,postcode,city,"
          "wijk,phone,email,wij_team_contact,last_guidance,birth_date")
FOUR = '["voluntary", "consent", "exclusion", "capacity"]'
# The package is installed once per module: its tests run on one worker (pytest-xdist).
pytestmark = pytest.mark.xdist_group("minimum_age")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package installed with pip into a folder of its own; return the folder."""
    work = tmp_path_factory.mktemp("minimum_age")
    source = work / "source"  # build from a copy: no build/ or egg-info left in the repository
    shutil.copytree(EXAMPLE, source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--quiet", "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "casework_rule_minimum_age.py").is_file()
    return target


def project(root: Path, database_url: str, extra: str = "") -> Path:
    """Write config.toml and a workflows folder whose Kansen in Kaart names minimum_age (for
    the tests' database: a copy of the initialised one with anna and her colleagues)."""
    workflows = root / "workflows"
    workflows.mkdir()
    text = (WORKFLOWS / "kansen_in_kaart.toml").read_text(encoding="utf-8")
    assert f"rules = {FOUR}" in text
    route = workflows / "kansen_in_kaart.toml"
    route.write_text(text.replace(f"rules = {FOUR}", f"rules = {FOUR[:-1]}, \"minimum_age\"]"),
                     encoding="utf-8")
    (root / "config.toml").write_text(
        f'[database]\nurl = "{database_url}"\n\n[paths]\nworkflows = "workflows"\n'
        f'templates = "{(ROOT / "templates" / "letters").as_posix()}"\n' + extra,
        encoding="utf-8")
    return route


def casework(root: Path, *args: str, site: Path | None) -> subprocess.CompletedProcess[str]:
    """Run the casework command in its own process, with the package's folder on the path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CASEWORK_") and k != "PYTHONPATH"}
    env.update(CASEWORK_CONFIG=str(root / "config.toml"), CASEWORK_USER="anna",
               COLUMNS="200")
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-m", "casework", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def ok(root: Path, *args: str, site: Path | None) -> str:
    result = casework(root, *args, site=site)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def as_json(root: Path, *args: str, site: Path | None) -> Any:
    return json.loads(ok(root, *args, "--json", site=site))


def years_ago(years: int) -> date:
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    return today.replace(year=today.year - years, day=min(today.day, 28))


def people_csv(root: Path, *ages: int | None) -> Path:
    """One person per age (None: birth date unknown), cases 1, 2, ... in this order."""
    bsns = [f"{n:09d}" for n in range(750_000_000, 750_000_100)
            if stdnum_bsn.is_valid(f"{n:09d}")]
    lines = [HEADER]
    for n, age in enumerate(ages):
        born = years_ago(age).isoformat() if age is not None else ""
        lines.append(f"{bsns[n]},M.,,Jong{n},Laan,{n + 1},,9712 AB,Groningen,Beijum,,,no,,"
                     f"{born}")
    path = root / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_route_may_name_the_installed_rule_and_not_without_it(
        tmp_path: Path, site: Path) -> None:
    route = project(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    out = ok(tmp_path, "workflow", "validate", str(route), site=site)
    assert out.strip() == f"{route}: ok (kansen-in-kaart version 6, 7 states, 11 triggers)"
    without = casework(tmp_path, "workflow", "validate", str(route), site=None)
    assert without.returncode == 1
    first = without.stderr.splitlines()[0]
    assert first.startswith(f"{route}: [workflow]: unknown rule 'minimum_age' (known: ")
    assert "a rule from a package must be installed" in first


@pytest.mark.long
def test_the_installed_rule_keeps_minors_out_and_lets_adults_in(
        tmp_path: Path, env: Env, site: Path) -> None:
    project(tmp_path, env.database_url)
    adult, minor, unknown = 1, 2, 3
    summary = as_json(tmp_path, "cohort", "import", str(people_csv(tmp_path, 30, 17, None)),
                      "--workflow", WORKFLOW, site=site)
    assert (summary["imported"], summary["excluded"]) == (3, 1)
    assert summary["excluded_by_reason"] == {"under_18": 1}
    listed = as_json(tmp_path, "cohort", "excluded", "--workflow", WORKFLOW, site=site)
    assert [(c["case_id"], c["reason"]) for c in listed["cases"]] == [(minor, "under_18")]

    shown = as_json(tmp_path, "case", "triggers", str(minor), site=site)
    invite = {t["trigger"]: t for t in shown["triggers"]}["invite"]
    assert invite["possible"] is False
    assert invite["reason"].startswith("the person is younger than 18")
    assert "(rule minimum_age)" in invite["reason"]  # and the exclusion it caused
    refused = casework(tmp_path, "case", "advance", str(minor), "invite",
                       "--set", "appointment=2099-01-05 10:00", site=site)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"Error: {invite['reason']}"

    ok(tmp_path, "case", "advance", str(adult), "invite", "--set", "appointment=2099-01-05 10:00",
       site=site)
    plan = as_json(tmp_path, "cohort", "plan", "--workflow", WORKFLOW, "--wijk", "Beijum",
                   "--from", "2099-01-05", "--specialists", "1", site=site)
    assert [inv["case_id"] for inv in plan["invitations"]] == [unknown]
    states = {c["id"]: c["state"] for c in
              as_json(tmp_path, "case", "list", site=site)["cases"]}
    assert states == {adult: "invited", minor: "selected", unknown: "invited"}


@pytest.mark.long
def test_the_rule_reads_its_own_setting_from_config(
        tmp_path: Path, env: Env, site: Path) -> None:
    project(tmp_path, env.database_url, "\n[rules.minimum_age]\nage = 16\n")
    summary = as_json(tmp_path, "cohort", "import", str(people_csv(tmp_path, 17, 15)),
                      "--workflow", WORKFLOW, site=site)
    assert summary["excluded_by_reason"] == {"under_16": 1}
    listed = as_json(tmp_path, "cohort", "excluded", "--workflow", WORKFLOW, site=site)
    assert [c["case_id"] for c in listed["cases"]] == [2]


@pytest.mark.long
def test_the_project_can_switch_the_installed_rule_off(
        tmp_path: Path, env: Env, site: Path) -> None:
    project(tmp_path, env.database_url, '\n[rules]\ndisabled = ["minimum_age"]\n')
    summary = as_json(tmp_path, "cohort", "import", str(people_csv(tmp_path, 17)),
                      "--workflow", WORKFLOW, site=site)
    assert summary["excluded"] == 0
    ok(tmp_path, "case", "advance", "1", "invite", "--set", "appointment=2099-01-05 10:00",
       site=site)
