"""Parsed TOML kept across processes (casework.tomlcache): a route or config file read again
gives the same document without being parsed, a changed file is parsed anew, and a copy
that is broken, foreign, writable by others or under another file's hash is never used."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from conftest import WORKFLOWS

from casework import tomlcache
from casework.config import load_settings
from casework.errors import ConfigError, WorkflowError
from casework.workflow import load_route


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "casework" / "toml"


def unparsable(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on tomllib refuses every document: what loads returns came from the cache."""
    def refuse(text: str, **_: object) -> dict[str, object]:
        raise AssertionError("parsed although the cache holds it")

    monkeypatch.setattr(tomllib, "loads", refuse)


def test_a_file_read_again_comes_from_the_cache_as_it_was_parsed(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (WORKFLOWS / "kansen_in_kaart.toml").read_bytes()
    parsed = tomllib.loads(data.decode("utf-8"))
    assert tomlcache.loads(data) == parsed
    assert [p.name for p in folder.iterdir()] == [f"{tomlcache._key(data)}.json"]
    unparsable(monkeypatch)
    again = tomlcache.loads(data)
    assert again == parsed
    assert json.dumps(again) == json.dumps(parsed)  # the order of keys too
    assert tomlcache.loads(data) is not again  # each reader gets objects of its own


def test_a_changed_file_is_parsed_anew(folder: Path) -> None:
    assert tomlcache.loads(b'a = 1\n') == {"a": 1}
    assert tomlcache.loads(b'a = 2\n') == {"a": 2}
    assert len(list(folder.glob("*.json"))) == 2


@pytest.mark.parametrize("spoil", ["broken", "foreign hash", "writable by others", "symlink"])
def test_a_copy_that_cannot_be_trusted_is_not_used(folder: Path, spoil: str) -> None:
    data, other = b'name = "right"\n', b'name = "wrong"\n'
    tomlcache.loads(data)
    tomlcache.loads(other)
    copy, others = (folder / f"{tomlcache._key(d)}.json" for d in (data, other))
    if spoil == "broken":
        copy.write_text('{"sha256": ', encoding="utf-8")
    elif spoil == "foreign hash":  # another file's copy put in its place
        copy.write_bytes(others.read_bytes())
    elif spoil == "writable by others":
        copy.write_text(json.dumps({"sha256": tomlcache._key(data), "doc": {"name": "wrong"}}),
                        encoding="utf-8")
        copy.chmod(0o666)
    else:
        copy.unlink()
        copy.symlink_to(others)
    assert tomlcache.loads(data) == {"name": "right"}


def test_a_cache_folder_others_may_write_is_not_used(folder: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    tomlcache.loads(b"a = 1\n")
    folder.chmod(0o777)
    unparsable(monkeypatch)
    with pytest.raises(AssertionError, match="parsed although"):
        tomlcache.loads(b"a = 1\n")


def test_documents_json_would_change_are_not_kept(folder: Path) -> None:
    for text in (b"day = 2026-12-01\n", b"at = 09:00:00\n", b"most = inf\n", b"x = nan\n"):
        tomlcache.loads(text)
    assert not list(folder.glob("*.json"))


def test_the_oldest_copies_go_when_there_are_too_many(folder: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tomlcache, "MOST", 4)
    monkeypatch.setattr(tomlcache, "KEEP", 2)
    texts = [f"n = {n}\n".encode() for n in range(5)]
    for n, text in enumerate(texts):
        tomlcache.loads(text)
        if n < 4:  # the older copies, oldest first
            os.utime(folder / f"{tomlcache._key(text)}.json", (n, n))
    kept = {path.name for path in folder.glob("*.json")}
    assert kept == {f"{tomlcache._key(text)}.json" for text in texts[3:]}


def test_errors_in_the_files_read_as_before(folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[workflow\n", encoding="utf-8")
    with pytest.raises(WorkflowError, match=r"bad.toml: not valid TOML: .*\(at line 1"):
        load_route(bad)
    config = tmp_path / "config.toml"
    config.write_text("[database\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config.toml: not valid TOML \(.*\); fix the file"):
        load_settings(config)
    bad.write_bytes(b"[workflow]\nid = \"\xff\"\n")
    with pytest.raises(WorkflowError, match="is not UTF-8 text"):
        load_route(bad)
    assert not list(folder.glob("*.json"))
