"""Pluggable rules: built-in ones and those installed packages add (entry points
``casework.rules``), run through pluggy. A route names the rules it uses; config.toml can switch
a rule off (``[rules] disabled = [...]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pluggy

from casework.rules import hookspecs
from casework.rules.hookspecs import Block, RuleContext, hookimpl

if TYPE_CHECKING:
    from casework.engine import CaseSnapshot, Step
    from casework.workflow import Route, TransitionSpec

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Block", "RuleContext", "Rules", "hookimpl"]

ENTRY_POINT_GROUP = "casework.rules"
BUILTIN = ("voluntary", "consent", "exclusion", "capacity")


def get_plugin_manager() -> pluggy.PluginManager:
    """Return a plugin manager with the built-in rules and every installed rule package."""
    from casework.rules import capacity, consent, exclusion, voluntary

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for module in (voluntary, consent, exclusion, capacity):
        pm.register(module, name=module.NAME)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm


class Rules:
    """The rules as one route uses them: the ones it names, minus those switched off."""

    def __init__(self, disabled: tuple[str, ...] = (), pm: pluggy.PluginManager | None = None):
        self.pm = pm or get_plugin_manager()
        self.disabled = set(disabled)
        self._callers: dict[tuple[str, tuple[str, ...]], Any] = {}

    @property
    def names(self) -> list[str]:
        """Return the names of every known rule (built-in and installed)."""
        return sorted(name for name, _ in self.pm.list_name_plugin())

    def active(self, route: Route) -> list[str]:
        return [name for name in route.rules if name not in self.disabled]

    def _hook(self, route: Route, name: str) -> Any:
        cached = self._callers.get((name, (route.id, str(route.version))))
        if cached is not None:
            return cached
        key = (name, tuple(self.active(route)))
        if key not in self._callers:
            keep = set(key[1])
            remove = [plugin for plugin_name, plugin in self.pm.list_name_plugin()
                      if plugin_name not in keep]
            self._callers[key] = self.pm.subset_hook_caller(name, remove_plugins=remove)
        self._callers[(name, (route.id, str(route.version)))] = self._callers[key]
        return self._callers[key]

    def unknown(self, route: Route) -> list[str]:
        """Return the rule names a route uses that no installed rule has."""
        known = set(self.names)
        return [name for name in route.rules if name not in known]

    def check_route(self, route: Route) -> list[str]:
        problems: list[str] = []
        for found in self._hook(route, "check_route")(route=route):
            problems.extend(found or [])
        return problems

    def check_transition(self, ctx: RuleContext, route: Route, case: CaseSnapshot,
                         transition: TransitionSpec, data: Mapping[str, Any],
                         at: datetime | None) -> list[Block]:
        blocks: list[Block] = []
        for found in self._hook(route, "check_transition")(
            ctx=ctx, route=route, case=case, transition=transition, data=data, at=at,
        ):
            blocks.extend(found or [])
        return blocks

    def exclusion(self, participant: Mapping[str, Any], route: Route, today: date,
                  settings: Any) -> str | None:
        """Return the first reason a rule excludes the person, or None."""
        reasons = self._hook(route, "exclude_participant")(
            participant=participant, route=route, today=today, settings=settings,
        )
        found = [reason for reason in reasons if reason]
        return found[-1] if found else None

    def letter_variables(self, route: Route, case: Mapping[str, Any], template: str,
                         settings: Any) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for found in reversed(self._hook(route, "letter_variables")(
            route=route, case=case, template=template, settings=settings,
        )):
            merged.update(found or {})
        return merged

    def after_transition(self, ctx: RuleContext, route: Route, case: CaseSnapshot,
                         step: Step) -> None:
        self._hook(route, "after_transition")(ctx=ctx, route=route, case=case, step=step)
