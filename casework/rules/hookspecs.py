"""The rule interface: hooks a rule implements (built-in rules use the same hooks as plugins).

Hooks are called with keyword arguments only; an implementation takes just the ones it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from casework.engine import CaseSnapshot, Engine, Step
    from casework.route_format import Key
    from casework.workflow import Route, TransitionSpec

PROJECT = "casework"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class Block:
    """Why a rule blocks a transition: the rule's name and a reason a person can act on."""

    rule: str
    reason: str
    # A short code for what blocks (the exclusion's reason), recorded when someone allowed
    # to overrides the block (``case advance --override-exclusion``).
    code: str | None = None
    # The reason in Dutch, for people working in the web front (no command-line words);
    # None: the pages show ``reason``.
    says: str | None = None
    # False: no one overrides this block, not even who may override the rule's others (a
    # person who died or moved away is sent nothing, whatever a coordinator decides).
    overridable: bool = True

    def __str__(self) -> str:
        return f"{self.reason} (rule {self.rule})"


@dataclass
class RuleContext:
    """What a rule may use while a step is checked: the engine, the open transaction, a
    scratch dict that lives as long as one batch (bulk apply), and ``pending``."""

    engine: Engine
    conn: Connection
    scratch: dict[str, Any]
    # Rules whose blocks the actor knowingly overrides for this step (checked and allowed
    # by the engine before; only rules that say they are ``overridable``).
    overrides: frozenset[str] = frozenset()
    # What rules tally of the steps planned but not written yet (a referral counted toward
    # its partner's cap): emptied each time the planned steps are written, when the
    # database counts them instead. ``scratch`` is for what stays true for the whole batch.
    pending: dict[str, Any] = field(default_factory=dict)
    # The moment of a batch's transaction (bulk apply): its steps that give no moment of
    # their own happen then (or at their case's last event, when that is later). None:
    # each step asks the clock.
    now: datetime | None = None


@dataclass(frozen=True)
class Setting:
    """A setting a rule owns in config.toml (``rules.NAME.KEY``): its default (whose type the
    value must have), what it means, the values it may take, and a check of its own."""

    key: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    # Return what is wrong with a value (a sentence starting with "setting '...'"), or None.
    check: Callable[[Any], str | None] | None = None


@hookspec
def route_keys() -> list[Key]:  # type: ignore[empty-body]
    """Return the keys this rule reads from its own section of a route file (``[NAME]``),
    with their defaults; the route file format lists them and the route loader checks them."""


@hookspec
def overridable() -> str | None:  # type: ignore[empty-body]
    """Return the capability (casework.permissions.CAPABILITIES) that lets someone knowingly
    override this rule's block, with a reason; None (or no answer): its block is final."""


@hookspec
def rule_settings() -> list[Setting]:  # type: ignore[empty-body]
    """Return the settings this rule owns (config.toml [rules.NAME]), with their defaults."""


@hookspec
def preload(ctx: RuleContext, participant_ids: list[int]) -> None:
    """Read what the rule needs of many people in one go (a bulk apply's chunk) into
    ``ctx.scratch``, so checking each step reads nothing more."""


@hookspec
def consent_recorded(ctx: RuleContext, participant_id: int, scopes: list[str]) -> None:
    """Note consent recorded within a batch, so the batch's later steps see it."""


@hookspec
def consent_withdrawn(ctx: RuleContext, participant_id: int, scopes: list[str]) -> None:
    """Note consent withdrawn within a batch, so the batch's later steps see it."""


@hookspec
def letter_variants() -> list[str]:  # type: ignore[empty-body]
    """Return the variants this rule prints letters in (``letters check`` renders each)."""


@hookspec
def variant_variables(variant: str) -> dict[str, Any]:  # type: ignore[empty-body]
    """Return the letter variables a letter queued in this variant is printed with (empty
    dict when the variant is not the rule's)."""


@hookspec
def letter_defaults() -> dict[str, Any]:  # type: ignore[empty-body]
    """Return the variables every letter has while this rule is installed (what a template
    may test when the rule adds nothing to that letter)."""


@hookspec
def check_route(route: Route) -> list[str]:  # type: ignore[empty-body]
    """Return the problems a rule finds in a route when it is validated (empty when fine)."""


@hookspec
def check_transition(  # type: ignore[empty-body]
    ctx: RuleContext, route: Route, case: CaseSnapshot, transition: TransitionSpec,
    data: Mapping[str, Any], at: datetime | None,
) -> list[Block]:
    """Return the reasons this transition is blocked now (empty when it is allowed).

    ``data`` is the step's checked data; ``at`` is None when only asking what could happen
    (``casework case triggers``), so data-dependent checks may report less then.
    """


@hookspec
def transition_hooks(  # type: ignore[empty-body]
    route: Route, transition: TransitionSpec,
) -> list[str] | None:
    """Name the hooks of this rule that steps of this transition need (``check_transition``,
    ``after_transition``); for those steps the others are not called. None, or a rule
    without this hook: both are called for every step. Asked once per route version and
    transition: a bulk apply calls the step hooks for every line."""


@hookspec
def exclude_participant(  # type: ignore[empty-body]
    participant: Mapping[str, Any], route: Route, today: date, settings: Any,
) -> str | None:
    """Return why a person must not be approached on this route (None when they may be)."""


@hookspec
def letter_variables(  # type: ignore[empty-body]
    route: Route, case: Mapping[str, Any], template: str, settings: Any,
) -> dict[str, Any]:
    """Return variables this rule adds to a letter (empty dict when none)."""


@hookspec
def after_transition(ctx: RuleContext, route: Route, case: CaseSnapshot, step: Step) -> None:
    """React after a transition, inside its transaction: add effects (casework.effects) to
    ``step.effects``."""
