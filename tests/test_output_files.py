"""Output files never replace an input, are written whole, owner-only, and fail in one line."""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, WORKFLOWS, Env
from test_cli_cohort import bsns, person, write_csv

from casework.outfiles import open_output, remove_stale_temporaries, temp_name

WITH_ERRORS = EXAMPLES / "cohort_with_errors.csv"


def assert_one_line(result: object, *words: str) -> None:
    text = result.output  # type: ignore[attr-defined]
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    for word in words:
        assert word in lines[0], text


def commands(env: Env, target: Path) -> dict[str, list[str]]:
    """Every command that writes a file, writing it to ``target``."""
    cohort = write_csv(env.root / "in.csv", [person(bsns(1)[0])])
    return {
        "--rejects": ["cohort", "import", str(cohort), "--workflow", "kansen-in-kaart",
                      "--rejects", str(target)],
        "referral --out": ["referral", "export", "--partner", "wij_team", "--out", str(target)],
        "council --out": ["report", "council", "--as-of", "2026-12-01", "--workflow",
                          "kansen-in-kaart", "--out", str(target)],
        "--chart": ["report", "outcomes", "--workflow", "kansen-in-kaart", "--chart",
                    str(target)],
        "privacy --out": ["privacy", "export", "--bsn", "111222333", "--out", str(target)],
        "preview --out": ["letters", "preview", "uitnodiging", "--case", "1", "--out",
                          str(target)],
        "calibrate --out": ["letters", "calibrate", "--out", str(target)],
    }


COMMANDS = ("--rejects", "referral --out", "council --out", "--chart", "privacy --out",
            "preview --out", "calibrate --out")


@pytest.fixture
def own_workflows(env: Env) -> Env:
    """The environment with a copy of the routes, so a failing test cannot harm the real ones."""
    folder = env.root / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    env.config.write_text(env.config.read_text(encoding="utf-8").replace(
        WORKFLOWS.as_posix(), folder.as_posix()), encoding="utf-8")
    return env


@pytest.mark.parametrize("which", COMMANDS)
def test_an_output_that_is_the_config_a_workflow_or_the_anchor_is_refused(own_workflows: Env,
                                                                     which: str) -> None:
    env = own_workflows
    workflow = next((env.root / "workflows").glob("*.toml"))
    anchor = env.root / "audit-anchor.log"
    env.ok("audit", "verify")  # writes the anchor file
    for target in (env.config, workflow, anchor):
        before = target.read_bytes()
        result = env.run(*commands(env, target)[which])
        assert result.exit_code == 2, result.output
        assert_one_line(result, which.split()[-1], "overwritten")
        assert target.read_bytes() == before


@pytest.mark.backends("sqlite")  # a PostgreSQL database is not a file
@pytest.mark.parametrize("which", COMMANDS)
def test_an_output_that_is_the_database_is_refused(env: Env, which: str) -> None:
    database = Path(env.database_url.removeprefix("sqlite:///"))
    for target in (database, Path(f"{database}-wal")):
        before = target.read_bytes() if target.exists() else None
        result = env.run(*commands(env, target)[which])
        assert result.exit_code == 2, result.output
        assert_one_line(result, "database")
        assert (target.read_bytes() if target.exists() else None) == before
    assert env.ok("case", "list")


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link", "dotted path"])
def test_rejects_naming_the_cohort_file_itself_is_refused_before_reading(
        env: Env, how: str) -> None:
    cohort = env.root / "cohort.csv"
    shutil.copy(WITH_ERRORS, cohort)
    target = {"same path": lambda: cohort,
              "symlink": lambda: (env.root / "link.csv").symlink_to(cohort) or
              env.root / "link.csv",
              "hard link": lambda: os.link(cohort, env.root / "hard.csv") or
              env.root / "hard.csv",
              "dotted path": lambda: env.root / "." / ".." / env.root.name / "cohort.csv",
              }[how]()
    result = env.run("cohort", "import", str(cohort), "--workflow", "kansen-in-kaart",
                     "--rejects", str(target))
    assert result.exit_code == 2
    assert_one_line(result, "--rejects", "cohort file")
    assert cohort.read_bytes() == WITH_ERRORS.read_bytes()
    assert env.json("case", "list")["total"] == 0


def test_outputs_replace_an_existing_file_owner_only(env: Env) -> None:
    targets = {which: env.root / f"{n}.out" for n, which in enumerate(
        ("--rejects", "referral --out", "council --out"))}
    for which, target in targets.items():
        target.write_text("old", encoding="utf-8")
        target.chmod(0o644)
        result = env.run(*commands(env, target)[which])
        assert result.exit_code in (0, 1), result.output
        assert target.read_text(encoding="utf-8-sig") != "old"
        assert stat.S_IMODE(target.stat().st_mode) == 0o600, which
    assert not list(env.root.glob(".*.tmp"))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_rejects_to_a_full_disk_is_one_line_and_the_good_rows_stay_imported(env: Env) -> None:
    result = env.run("cohort", "import", str(WITH_ERRORS), "--workflow", "kansen-in-kaart",
                     "--rejects", "/dev/full")
    assert result.exit_code == 1
    assert_one_line(result, "/dev/full", "imported")
    assert env.json("case", "list")["total"] == 9  # the sample's good rows


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("which", ["referral --out", "council --out", "--chart",
                                   "calibrate --out"])
def test_other_outputs_to_a_full_disk_are_one_line(env: Env, which: str) -> None:
    result = env.run(*commands(env, Path("/dev/full"))[which])
    assert result.exit_code == 1
    assert_one_line(result, "/dev/full")


def test_an_output_in_a_missing_folder_is_one_line_before_any_work(env: Env) -> None:
    target = env.root / "nope" / "out.csv"
    for which in COMMANDS:
        result = env.run(*commands(env, target)[which])
        assert result.exit_code == 1, (which, result.output)
        assert_one_line(result, "does not exist")
    assert env.json("case", "list")["total"] == 0  # the import stopped before reading


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_output_in_a_folder_without_permission_is_one_line(env: Env) -> None:
    folder = env.root / "locked"
    folder.mkdir(mode=0o500)
    result = env.run(*commands(env, folder / "out.csv")["referral --out"])
    assert result.exit_code == 1
    assert_one_line(result, "permission")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), open_output(target) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert target.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_stale_letter_temporaries_are_removed_and_live_ones_kept(env: Env) -> None:
    folder = env.root / "letters-out" / "2026-11-30" / "letters"
    folder.mkdir(parents=True)
    live = temp_name(folder / "1.pdf")  # this process: still writing
    dead = folder / f".2.pdf.{temp_name(folder / 'x').name.split('.')[-3]}.99999999.tmp"
    other_host_fresh = folder / ".3.pdf.elsewhere.12.tmp"
    other_host_old = folder / ".4.pdf.elsewhere.13.tmp"
    for path in (live, dead, other_host_fresh, other_host_old):
        path.write_bytes(b"%PDF- Jansen, Kerkstraat 1")
    a_while_ago = time.time() - 600
    for path in (live, dead, other_host_fresh):
        os.utime(path, (a_while_ago, a_while_ago))
    os.utime(other_host_old, (time.time() - 2 * 86400,) * 2)
    env.ok("letters", "render", "--date", "2026-11-30")
    assert sorted(p.name for p in folder.iterdir()) == sorted([live.name,
                                                              other_host_fresh.name])
    assert remove_stale_temporaries(env.root / "no-such-folder") == 0
