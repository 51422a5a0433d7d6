import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, Env


def test_sample_cohort_lists_selected_cases(cohort: Env) -> None:
    data = cohort.json("case", "list", "--state", "selected", "--limit", "0")
    assert data["total"] == 200
    assert {c["state"] for c in data["cases"]} == {"selected"}


def test_advance_invite_moves_case_and_records_event(cohort: Env) -> None:
    cohort.ok("case", "advance", "1", "invite", "--set", "appointment=2099-01-05 10:00")
    shown = cohort.json("case", "show", "1")
    assert shown["state"] == "invited"
    assert [e["trigger"] for e in shown["timeline"]] == ["open", "invite"]
    assert shown["appointments"][0]["status"] == "planned"


@pytest.mark.long
def test_the_evaluation_season_example_still_runs(tmp_path: Path) -> None:
    """examples/ call the core as a script would: they keep up with its signatures."""
    result = subprocess.run([sys.executable, str(EXAMPLES / "evaluation_season.py"),
                             str(tmp_path / "season"), "--seed", "7"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "steps applied" in result.stdout
