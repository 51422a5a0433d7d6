"""Settings: defaults, the config file (CASEWORK_CONFIG or --config), CASEWORK_DATABASE_URL,
and the messages a user gets for a broken config file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import clean_failure

from casework.cli import cli
from casework.config import load_settings
from casework.errors import ConfigError

# The variables the tests set themselves; None removes one inherited from the shell.
CLEAN_ENV: dict[str, str | None] = {
    "CASEWORK_CONFIG": None,
    "CASEWORK_DATABASE_URL": None,
    "CASEWORK_USER": None,
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    variables = dict(CLEAN_ENV)
    variables.update(env or {})
    return CliRunner().invoke(cli, list(args), env=variables, catch_exceptions=False)


# --- where the settings come from ---------------------------------------------------------


def test_defaults_apply_when_there_is_no_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.source is None
    assert settings["database.url"] == "sqlite:///casework.db"
    assert settings["paths.workflows"] == "workflows"
    assert settings["paths.templates"] == "templates/letters"
    assert settings["organisation.name"] == "Gemeente Groningen"
    assert settings["timezone"] == "Europe/Amsterdam"
    assert settings["import.batch_size"] == 5000
    assert settings.database_url == f"sqlite:///{(tmp_path / 'casework.db').resolve()}"
    assert settings.workflows_dir.resolve() == (tmp_path / "workflows").resolve()


def test_init_without_config_file_creates_casework_db_in_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "casework.db").is_file()


def test_casework_config_variable_picks_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "elsewhere" / "site.toml",
                   '[organisation]\nname = "Gemeente Haren"\n\n'
                   "[import]\nbatch_size = 250\n")
    settings = load_settings(environ={"CASEWORK_CONFIG": str(config)})
    assert settings.source == config.resolve()
    assert settings["organisation.name"] == "Gemeente Haren"
    assert settings["import.batch_size"] == 250
    assert settings["timezone"] == "Europe/Amsterdam"  # not in the file: the default


def test_casework_config_variable_picks_the_database_for_commands(tmp_path: Path) -> None:
    config = write(tmp_path / "site" / "site.toml", '[database]\nurl = "sqlite:///site.db"\n')
    result = run("db", "current", env={"CASEWORK_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert str((tmp_path / "site" / "site.db").resolve()) in result.output


def test_config_option_picks_the_file_over_casework_config(tmp_path: Path) -> None:
    from_env = write(tmp_path / "a" / "config.toml", '[database]\nurl = "sqlite:///a.db"\n')
    from_option = write(tmp_path / "b" / "config.toml", '[database]\nurl = "sqlite:///b.db"\n')
    result = run("--config", str(from_option), "init",
                 env={"CASEWORK_CONFIG": str(from_env)})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "b.db").is_file()
    assert not (tmp_path / "a" / "a.db").exists()


def test_database_url_variable_overrides_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", '[database]\nurl = "sqlite:///from_file.db"\n')
    override = f"sqlite:///{tmp_path / 'from_env.db'}"
    settings = load_settings(config, environ={"CASEWORK_DATABASE_URL": override})
    assert settings.database_url == override
    assert settings.sources["database.url"] == "CASEWORK_DATABASE_URL"

    result = run("--config", str(config), "init", env={"CASEWORK_DATABASE_URL": override})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from_env.db").is_file()
    assert not (tmp_path / "from_file.db").exists()


def test_relative_sqlite_path_is_relative_to_the_config_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    write(site / "config.toml", '[database]\nurl = "sqlite:///data/casework.db"\n')
    (site / "data").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run("--config", "../site/config.toml", "init")
    assert result.exit_code == 0, result.output
    assert (site / "data" / "casework.db").is_file()
    assert not (elsewhere / "data").exists()
    assert list(elsewhere.iterdir()) == []


def test_relative_workflows_folder_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    shipped = Path(__file__).resolve().parent.parent / "workflows" / "kansen_in_kaart.toml"
    write(site / "routes" / "kansen_in_kaart.toml", shipped.read_text(encoding="utf-8"))
    write(site / "config.toml", '[paths]\nworkflows = "routes"\n')
    monkeypatch.chdir(tmp_path)
    result = run("--config", "site/config.toml", "workflow", "list", "--json")
    assert result.exit_code == 0, result.output
    assert '"kansen-in-kaart"' in result.output


# --- bad config files ---------------------------------------------------------------------


def test_unknown_setting_names_key_and_file(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", '[database]\nurll = "sqlite:///x.db"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    assert "database.urll" in str(info.value)
    assert str(config) in str(info.value)
    clean_failure(run("--config", str(config), "init"), "database.urll", str(config))


def test_unknown_top_level_setting_names_key_and_file(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", 'timezonee = "Europe/Amsterdam"\n')
    clean_failure(run("--config", str(config), "db", "current"),
                         "timezonee", str(config))


def test_wrong_type_names_key_file_and_expected_type(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", '[import]\nbatch_size = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    message = str(info.value)
    assert "import.batch_size" in message
    assert str(config) in message
    assert "whole number" in message
    clean_failure(run("--config", str(config), "init"),
                         "import.batch_size", str(config), "whole number")


def test_number_where_text_is_expected_names_key_and_expected_type(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", "[organisation]\nname = 42\n")
    clean_failure(run("--config", str(config), "init"),
                         "organisation.name", str(config), "text")


def test_true_is_not_accepted_as_batch_size(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", "[import]\nbatch_size = true\n")
    clean_failure(run("--config", str(config), "init"),
                         "import.batch_size", str(config), "whole number")


def test_zero_batch_size_names_key_and_file(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", "[import]\nbatch_size = 0\n")
    clean_failure(run("--config", str(config), "init"),
                         "import.batch_size", str(config))


@pytest.mark.parametrize("value", ["-1", "21", "1.5"])
def test_delivery_workdays_out_of_range_names_key_and_file(tmp_path: Path, value: str) -> None:
    config = write(tmp_path / "config.toml", f"[letters]\ndelivery_workdays = {value}\n")
    clean_failure(run("--config", str(config), "init"),
                         "letters.delivery_workdays", str(config))


def test_empty_database_url_names_key_and_file(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", '[database]\nurl = "  "\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    assert "database.url" in str(info.value)
    clean_failure(run("--config", str(config), "init"), "database.url", str(config))


def test_empty_database_url_variable_names_the_variable(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", "")
    clean_failure(
        run("--config", str(config), "init", env={"CASEWORK_DATABASE_URL": ""}),
        "CASEWORK_DATABASE_URL", "database.url",
    )


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", '[database\nurl = "sqlite:///x.db"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    assert str(config) in str(info.value)
    clean_failure(run("--config", str(config), "init"), str(config), "TOML")


def test_casework_config_naming_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "config.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"CASEWORK_CONFIG": str(missing)})
    assert str(missing) in str(info.value)
    clean_failure(run("init", env={"CASEWORK_CONFIG": str(missing)}),
                         str(missing), "CASEWORK_CONFIG", "does not exist")
    assert not missing.parent.exists()


def test_config_option_naming_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    clean_failure(run("--config", str(missing), "init"),
                         str(missing), "--config", "does not exist")


def test_unknown_time_zone_names_setting_value_and_file(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", 'timezone = "Europe/Groningen"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    message = str(info.value)
    assert "timezone" in message
    assert "Europe/Groningen" in message
    assert str(config) in message
    clean_failure(run("--config", str(config), "init"),
                         "timezone", "Europe/Groningen", str(config))


def test_configured_time_zone_is_used(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", 'timezone = "America/Paramaribo"\n')
    settings = load_settings(config, environ={})
    assert settings.tz.key == "America/Paramaribo"
