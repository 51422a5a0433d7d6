"""Settings: declared once below (and by the rules that own theirs), read from config.toml,
then overridden by CASEWORK_* variables.

Later sources win: defaults, then the config file (``CASEWORK_CONFIG`` or ``./config.toml``),
then environment variables (``CASEWORK_DATABASE_URL``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from casework import tomlcache
from casework.durations import parse_duration
from casework.errors import ConfigError

# (dotted key, default, help). The type of each setting is the type of its default.
SETTINGS: tuple[tuple[str, Any, str], ...] = (
    ("database.url", "sqlite:///casework.db",
     "SQLAlchemy URL; a relative SQLite path is relative to the config file"),
    ("paths.workflows", "workflows", "folder with the workflow files (*.toml)"),
    ("paths.templates", "templates/letters", "folder with the letter templates"),
    ("organisation.name", "Gemeente Groningen", "sender shown on letters and reports"),
    ("organisation.department", "Werk en Participatie", "department in the letterhead"),
    ("organisation.address", "Postbus 30026", "postal address in the letterhead"),
    ("organisation.postcode_city", "9700 RM  GRONINGEN", "postcode and city of the sender"),
    ("organisation.phone", "14 050", "phone number people can call, on every letter"),
    ("organisation.contact", "Team Kansen in Kaart", "who signs the letters and answers calls"),
    ("organisation.website", "gemeente.groningen.nl", "website in the letter footer"),
    ("timezone", "Europe/Amsterdam", "time zone in which staff enter and see times"),
    ("import.batch_size", 5000, "rows written per transaction by cohort import"),
    ("paths.logs", "logs", "folder for the daily run's log files (no BSNs in them)"),
    ("scheduler.time", "06:00", "time of day (HH:MM, local) the scheduler starts the daily run"),
    ("planning.day_start", "09:00", "first appointment of a day (HH:MM)"),
    ("planning.day_end", "17:00", "appointments end by this time (HH:MM)"),
    ("planning.slot_minutes", 90, "length of an appointment slot, travel included"),
    ("planning.per_specialist_per_day", 4, "appointments per specialist per day"),
    ("planning.location", "thuis", "where the conversation is held unless asked otherwise"),
    ("planning.wave_size", 250, "most invitations in one wave (per wijk)"),
    ("letters.output_dir", "letters-out", "where rendered letters and mail-house batches go"),
    ("letters.batch_size", 500, "most letters in one mail-house batch"),
    ("letters.max_pages", 4, "a longer letter is held, not sent"),
    ("letters.duplex", False, "printed on both sides (sheets = pages / 2)"),
    ("letters.correction_days", 14, "days people have to correct their conversation report"),
    ("letters.delivery_workdays", 2,
     "workdays the post takes from the day a letter is made; a letter about an appointment "
     "that cannot arrive before the day of the appointment is not sent"),
    ("letters.window_left_mm", 22.0, "envelope window: distance from the left edge of the page"),
    ("letters.window_top_mm", 50.0, "envelope window: distance from the top of the page"),
    ("letters.window_width_mm", 85.0, "envelope window: width"),
    ("letters.window_height_mm", 35.0, "envelope window: height"),
    ("reports.annual_benefit_per_fte", 14000.0,
     "yearly benefit saved per fte that leaves it (euro), for the outflow report"),
    ("reports.care_partners", [],
     "partners that count as care (referred on to care, went to the social team) besides "
     "those the routes name in [reports] care_partners"),
    ("retention", {},
     "per route, per closing reason (or default): how long after closing a person's data is "
     "kept, an ISO 8601 duration such as P2Y; people without a period are never purged"),
    ("staff.logins", {}, "OS login = staff name, for people who do not give --as"),
    ("audit.anchor_file", "audit-anchor.log",
     "file outside the database to which every seal and verify appends the chain heads "
     "(owner-only, append-only); relative to the config file"),
    ("audit.key_file", "",
     "file holding a secret key: the hash chains become HMAC-SHA256 with it (empty: plain "
     "SHA-256); relative to the config file"),
    ("rules.disabled", [], "rules switched off although a route names them"),
    ("web.idle_minutes", 15, "the web front logs a staff member out after this many minutes "
     "without a request"),
    ("web.max_failures", 5, "failed web logins in a row after which the account is locked"),
    ("web.lockout_minutes", 15, "how long a locked web account stays locked"),
    ("web.max_upload_mb", 10, "the largest file the web front takes (a cohort to import), in "
     "megabytes; a larger cohort is imported with 'casework cohort import'"),
    ("web.secret_key_file", "web-secret.key",
     "file holding the key that signs the web front's session cookies (made, owner-only, "
     "when missing); relative to the config file"),
    ("web.oidc.issuer", "",
     "single sign-on: the identity provider's issuer URL (OpenID Connect; discovery at "
     "{issuer}/.well-known/openid-configuration); empty: no single sign-on"),
    ("web.oidc.client_id", "", "single sign-on: this application's client id at the provider"),
    ("web.oidc.client_secret_file", "",
     "single sign-on: file holding the client secret (never in config.toml); relative to the "
     "config file"),
    ("web.oidc.claim", "preferred_username",
     "single sign-on: the ID-token claim that holds the staff member's name"),
    ("web.oidc.scopes", ["openid", "profile"],
     "single sign-on: the scopes asked for (openid is always asked)"),
    ("web.oidc.only", False, "single sign-on only: a login with a password is refused"),
    ("web.theme", {},
     "the municipality's look on the web pages: design tokens as CSS custom properties, "
     "e.g. color-primary = \"#005a9c\" (known: color-primary, color-primary-text, "
     "color-header, color-header-text, color-focus; and logo = a PNG or SVG file, "
     "relative to the config file)"),
)
MAX_DELIVERY_WORKDAYS = 20


@cache
def declared() -> dict[str, tuple[Any, str]]:
    """Return every setting casework knows, the built-in rules' own included: key ->
    (default, help). The type of each setting is the type of its default."""
    from casework.rules import builtin_settings

    found = {key: (default, text) for key, default, text in SETTINGS}
    found.update({s.key: (s.default, s.help) for s in builtin_settings()})
    return found


@cache
def _rule_setting_checks() -> dict[str, Any]:
    from casework.rules import builtin_settings

    return {s.key: s for s in builtin_settings()}


ENV_OVERRIDES = {"CASEWORK_DATABASE_URL": "database.url"}


@dataclass(frozen=True)
class Settings:
    """The effective settings, with paths resolved."""

    values: dict[str, Any]
    base_dir: Path
    source: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def database_url(self) -> str:
        url: str = self.values["database.url"]
        return resolve_sqlite_path(url, self.base_dir)

    @property
    def workflows_dir(self) -> Path:
        return self.base_dir / self.values["paths.workflows"]

    @property
    def templates_dir(self) -> Path:
        return self.base_dir / self.values["paths.templates"]

    @property
    def letters_dir(self) -> Path:
        return self.base_dir / self.values["letters.output_dir"]

    @property
    def logs_dir(self) -> Path:
        return self.base_dir / self.values["paths.logs"]

    @property
    def anchor_file(self) -> Path:
        return self.base_dir / self.values["audit.anchor_file"]

    @property
    def key_file(self) -> Path | None:
        name: str = self.values["audit.key_file"]
        return self.base_dir / name if name else None

    @property
    def web_secret_key_file(self) -> Path:
        return self.base_dir / self.values["web.secret_key_file"]

    @property
    def oidc_secret_file(self) -> Path | None:
        name: str = self.values["web.oidc.client_secret_file"]
        return self.base_dir / name if name else None

    @property
    def oidc(self) -> bool:
        """Whether single sign-on (OpenID Connect) is configured."""
        return bool(self.values["web.oidc.issuer"])

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.values["timezone"])


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Return the URL with a relative SQLite file path made absolute against base_dir."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix):]
        if rest and rest != ":memory:" and not rest.startswith("file:"):
            return prefix + str((base_dir / rest).resolve())
    return url


def _is_clock_time(text: str) -> bool:
    hours, _, minutes = text.partition(":")
    return (hours.isascii() and minutes.isascii() and hours.isdigit() and minutes.isdigit()
            and len(minutes) == 2
            and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60)


def clock_time(text: str) -> tuple[int, int]:
    """Return (hours, minutes) of a checked 'HH:MM' setting."""
    hours, _, minutes = text.partition(":")
    return int(hours), int(minutes)


def _is_plugin_setting(key: str) -> bool:
    from casework.rules import BUILTIN

    parts = key.split(".")
    return len(parts) >= 3 and parts[0] == "rules" and parts[1] not in BUILTIN


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and (
            any(name.startswith(dotted + ".") for name in declared()) or dotted == "rules"
            or (dotted.startswith("rules.") and dotted.count(".") == 1)
        ):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _type_name(value: Any) -> str:
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _check(key: str, value: Any, where: str) -> Any:
    default = declared()[key][0]
    if isinstance(default, bool) != isinstance(value, bool) or not isinstance(value, type(default)):
        if not (isinstance(default, float) and isinstance(value, int)
                and not isinstance(value, bool)):
            raise ConfigError(
                f"{where}: setting '{key}' must be {_type_name(default)}, got {value!r}"
            )
        value = float(value)
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{where}: setting '{key}' is empty; give a value or remove the line")
    if isinstance(value, float) and not (math.isfinite(value) and 0 <= value < 1_000_000):
        raise ConfigError(f"{where}: setting '{key}' must be a number from 0 to below a "
                          f"million, got {value!r}")
    return value


def load_settings(path: str | os.PathLike[str] | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Return the settings from defaults, the config file and the environment."""
    env = os.environ if environ is None else environ
    explicit = path if path is not None else env.get("CASEWORK_CONFIG")
    config_path = Path(explicit) if explicit else Path("config.toml")
    values = {key: default for key, (default, _) in declared().items()}
    sources = {key: "default" for key in values}
    source: Path | None = None
    if config_path.is_file():
        source = config_path.resolve()
        try:
            data = tomlcache.loads(config_path.read_bytes())
        except tomlcache.TOMLError as exc:
            raise ConfigError(f"{config_path}: not valid TOML ({exc}); fix the file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{config_path}: is not UTF-8 text; save it as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"{config_path}: cannot be read ({exc.strerror})") from None
        for key, value in _flatten(data).items():
            if _is_plugin_setting(key):
                values[key] = value  # a rule from a package reads its own settings
                sources[key] = str(config_path)
                continue
            if key not in values:
                raise ConfigError(
                    f"{config_path}: unknown setting '{key}'; known settings: "
                    + ", ".join(sorted(declared()))
                )
            values[key] = _check(key, value, str(config_path))
            sources[key] = str(config_path)
    elif explicit:
        raise ConfigError(
            f"config file {config_path} does not exist (named by "
            f"{'CASEWORK_CONFIG' if path is None else '--config'}); create it or fix the path"
        )
    for var, key in ENV_OVERRIDES.items():
        if var in env:
            values[key] = _check(key, env[var], f"environment variable {var}")
            sources[key] = var
    base_dir = source.parent if source else Path.cwd()
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{sources['timezone']}: setting 'timezone' is not a known time zone: "
            f"{values['timezone']!r} (use e.g. 'Europe/Amsterdam')"
        ) from None
    for key in ("scheduler.time", "planning.day_start", "planning.day_end"):
        if not _is_clock_time(values[key]):
            raise ConfigError(
                f"{sources[key]}: setting '{key}' must be a time of day like 06:00, "
                f"got {values[key]!r}"
            )
    for key in ("planning.slot_minutes", "planning.per_specialist_per_day",
                "planning.wave_size", "letters.batch_size", "letters.max_pages",
                "letters.correction_days"):
        if values[key] < 1:
            raise ConfigError(f"{sources[key]}: setting '{key}' must be at least 1")
    if not 0 <= values["letters.delivery_workdays"] <= MAX_DELIVERY_WORKDAYS:
        raise ConfigError(f"{sources['letters.delivery_workdays']}: setting "
                          f"'letters.delivery_workdays' must be a whole number from 0 to "
                          f"{MAX_DELIVERY_WORKDAYS}")
    start_h, start_m = clock_time(values["planning.day_start"])
    end_h, end_m = clock_time(values["planning.day_end"])
    if (end_h * 60 + end_m) - (start_h * 60 + start_m) < values["planning.slot_minutes"]:
        raise ConfigError(
            f"{sources['planning.day_end']}: no appointment fits in a day: "
            f"planning.day_start {values['planning.day_start']} to planning.day_end "
            f"{values['planning.day_end']} is shorter than planning.slot_minutes "
            f"({values['planning.slot_minutes']}); widen the hours or shorten the slots"
        )
    for key, setting in _rule_setting_checks().items():
        value = values[key]
        if setting.choices and value not in setting.choices:
            raise ConfigError(f"{sources[key]}: setting '{key}' must be "
                              f"{' or '.join(setting.choices)}, got {value!r}")
        problem = setting.check(value) if setting.check else None
        if problem:
            raise ConfigError(f"{sources[key]}: {problem}")
    for route, periods in values["retention"].items():
        where = f"{sources['retention']}: setting 'retention.{route}"
        if not isinstance(periods, dict):
            raise ConfigError(f"{where}' must be a table of closing reason = \"P2Y\" "
                              "(and default = ...)")
        for reason, period in periods.items():
            try:
                parse_duration(str(period))
            except ValueError:
                raise ConfigError(f"{where}.{reason}' must be a period such as \"P2Y\" or "
                                  f"\"P18M\", got {period!r}") from None
    if not all(isinstance(name, str) for name in values["rules.disabled"]):
        raise ConfigError(f"{sources['rules.disabled']}: setting 'rules.disabled' must be a "
                          "list of rule names")
    for key in ("web.idle_minutes", "web.max_failures", "web.lockout_minutes",
                "web.max_upload_mb"):
        if values[key] < 1:
            raise ConfigError(f"{sources[key]}: setting '{key}' must be at least 1")
    problem = _oidc_problem(values)
    if problem:
        where = sources["web.oidc.issuer" if values["web.oidc.issuer"] else "web.oidc.only"]
        raise ConfigError(f"{where}: {problem}")
    from casework.theme import theme_problem

    problem = theme_problem(values["web.theme"])
    if problem:
        raise ConfigError(f"{sources['web.theme']}: setting 'web.theme': {problem}")
    if values["import.batch_size"] < 1:
        raise ConfigError(
            f"{sources['import.batch_size']}: setting 'import.batch_size' must be >= 1"
        )
    return Settings(values=values, base_dir=base_dir, source=source, sources=sources)


def _oidc_problem(values: dict[str, Any]) -> str | None:
    """Say what is wrong with the [web.oidc] settings, or None."""
    issuer = values["web.oidc.issuer"]
    if not issuer:
        if values["web.oidc.only"]:
            return ("setting 'web.oidc.only' needs single sign-on: set 'web.oidc.issuer', "
                    "'web.oidc.client_id' and 'web.oidc.client_secret_file'")
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(issuer)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if not parts.hostname or parts.query or parts.fragment or not (
            parts.scheme == "https" or (parts.scheme == "http" and local)):
        return (f"setting 'web.oidc.issuer' must be the provider's https:// address "
                f"(http:// only on this machine), got {issuer!r}")
    for key in ("web.oidc.client_id", "web.oidc.client_secret_file"):
        if not values[key]:
            return f"setting '{key}' is needed for single sign-on (web.oidc.issuer is set)"
    scopes = values["web.oidc.scopes"]
    if not all(isinstance(s, str) and s and " " not in s for s in scopes):
        return "setting 'web.oidc.scopes' must be a list of scope names such as \"profile\""
    return None
