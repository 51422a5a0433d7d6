"""Pluggable rules: built-in ones and those installed packages add (entry points
``casework.rules``), run through pluggy. A route names the rules it uses; config.toml can switch
a rule off (``[rules] disabled = [...]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import pluggy

from casework.rules import hookspecs
from casework.rules.hookspecs import Block, RuleContext, Setting, hookimpl

if TYPE_CHECKING:
    from casework.engine import CaseSnapshot, Step
    from casework.workflow import Route, TransitionSpec

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Block", "RuleContext", "Rules", "Setting",
           "builtin_settings", "hookimpl"]

ENTRY_POINT_GROUP = "casework.rules"
BUILTIN = ("voluntary", "consent", "exclusion", "capacity")


def _builtin_modules() -> tuple[Any, ...]:
    from casework.rules import capacity, consent, exclusion, voluntary

    return (voluntary, consent, exclusion, capacity)


def builtin_settings() -> list[Setting]:
    """Return the settings the built-in rules own (config.toml reads them before any plugin
    manager exists; a rule from a package reads its own ``rules.NAME`` table)."""
    return [setting for module in _builtin_modules()
            if hasattr(module, "rule_settings") for setting in module.rule_settings()]


def builtin_route_keys() -> dict[str, tuple[Any, ...]]:
    """Return the route file sections the built-in rules own: rule name -> its keys."""
    return {module.NAME: tuple(module.route_keys()) for module in _builtin_modules()
            if hasattr(module, "route_keys")}


def get_plugin_manager() -> pluggy.PluginManager:
    """Return a plugin manager with the built-in rules and every installed rule package."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for module in _builtin_modules():
        pm.register(module, name=module.NAME)
    _register_installed(pm)
    return pm


def _register_installed(pm: pluggy.PluginManager) -> None:
    """Register the rules installed packages declare (entry point group ``casework.rules``),
    as pluggy's ``load_setuptools_entrypoints`` does; but only a package whose
    entry_points.txt names the group has its entry points parsed (pluggy parses those of
    every installed package, and every command loads the rules)."""
    from importlib.metadata import distributions

    for dist in distributions():
        text = dist.read_text("entry_points.txt")
        if not text or f"[{ENTRY_POINT_GROUP}]" not in text:
            continue
        for point in dist.entry_points.select(group=ENTRY_POINT_GROUP):
            if pm.has_plugin(point.name) or pm.is_blocked(point.name):
                continue
            pm.register(point.load(), name=point.name)


class Rules:
    """The rules as one route uses them: the ones it names, minus those switched off."""

    def __init__(self, disabled: tuple[str, ...] = (), pm: pluggy.PluginManager | None = None):
        self.pm = pm or get_plugin_manager()
        self.disabled = set(disabled)
        self._callers: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._by_route: dict[tuple[str, int], tuple[Route, Any]] = {}
        # (hook, route, transition) -> the step hook's caller for that transition's steps
        self._by_transition: dict[tuple[str, int, int],
                                  tuple[Route, TransitionSpec, Any]] = {}
        self._letter_variables: dict[tuple[int, int, str, int],
                                     tuple[Route, Any, dict[str, Any]]] = {}

    @property
    def names(self) -> list[str]:
        """Return the names of every known rule (built-in and installed)."""
        return sorted(name for name, _ in self.pm.list_name_plugin())

    def active(self, route: Route) -> list[str]:
        return [name for name in route.rules if name not in self.disabled]

    def _hook(self, route: Route, name: str) -> Any:
        mine = self._by_route.get((name, id(route)))
        if mine is not None and mine[0] is route:  # the route object itself: no key to build
            return mine[1]
        cached = self._callers.get((name, (route.id, str(route.version))))
        if cached is not None:
            self._remember(route, name, cached)
            return cached
        key = (name, tuple(self.active(route)))
        if key not in self._callers:
            remove = self._plugins_but(set(key[1]))
            self._callers[key] = _direct(self.pm.subset_hook_caller(name,
                                                                    remove_plugins=remove))
        self._callers[(name, (route.id, str(route.version)))] = self._callers[key]
        self._remember(route, name, self._callers[key])
        return self._callers[key]

    def _step_hook(self, route: Route, transition: TransitionSpec, name: str) -> Any:
        """Return the caller of a step hook (check_transition, after_transition) for steps of
        this transition: the route's rules, but those that say (transition_hooks) they have
        nothing to do for it; None when that leaves no rule."""
        key = (name, id(route), id(transition))
        found = self._by_transition.get(key)
        if found is not None and found[0] is route and found[1] is transition:
            return found[2]
        keep = set(self.active(route))
        remove = self._plugins_but(keep)
        arguments = {"route": route, "transition": transition}
        for impl in self.pm.hook.transition_hooks.get_hookimpls():
            if impl.plugin_name not in keep:
                continue
            wanted = impl.function(*(arguments[arg] for arg in impl.argnames))
            if wanted is not None and name not in wanted:
                remove.append(impl.plugin)
        caller: Any = self.pm.subset_hook_caller(name, remove_plugins=remove)
        # None when no rule has anything to do for these steps: nothing to call at all.
        caller = _direct(caller) if caller.get_hookimpls() else None
        if len(self._by_transition) >= 1000:  # routes loaded again and again: no leak
            self._by_transition.clear()
        self._by_transition[key] = (route, transition, caller)
        return caller

    def _plugins_but(self, keep: set[str]) -> list[Any]:
        """Return the installed rules (plugins) not named in keep: those a caller leaves out."""
        return [plugin for plugin_name, plugin in self.pm.list_name_plugin()
                if plugin_name not in keep]

    def _remember(self, route: Route, name: str, caller: Any) -> None:
        if len(self._by_route) >= 1000:  # routes loaded again and again: no leak
            self._by_route.clear()
        self._by_route[(name, id(route))] = (route, caller)

    def route_keys(self) -> dict[str, tuple[Any, ...]]:
        """Return the route file sections installed rules own: rule name -> its keys."""
        owned: dict[str, tuple[Any, ...]] = {}
        for name, plugin in self.pm.list_name_plugin():
            impl = getattr(plugin, "route_keys", None)
            if callable(impl):
                owned[name] = tuple(impl())
        return owned

    def overridable(self) -> dict[str, str]:
        """Return the rules whose block may be overridden: rule name -> the capability."""
        found: dict[str, str] = {}
        for name, plugin in self.pm.list_name_plugin():
            impl = getattr(plugin, "overridable", None)
            capability = impl() if callable(impl) else None
            if capability:
                found[name] = capability
        return found

    def excludes(self, route: Route) -> bool:
        """Return whether a rule the route uses keeps people out (exclude_participant)."""
        return bool(self._hook(route, "exclude_participant").get_hookimpls())

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
        caller = self._step_hook(route, transition, "check_transition")
        if caller is None:
            return blocks
        found_all = (caller.positional(ctx, route, case, transition, data, at)
                     if type(caller) is _DirectCaller else
                     caller(ctx=ctx, route=route, case=case, transition=transition, data=data,
                            at=at))
        for found in found_all:
            if found:
                blocks.extend(found)
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
        caller = self._hook(route, "letter_variables")
        # When no rule asks which case the letter is for, the variables are those of the
        # route, template and settings: worked out once for them (every letter of a bulk
        # apply's invitations asks), handed out as a copy.
        key = (id(caller), id(route), template, id(settings))
        found = self._letter_variables.get(key)
        if found is not None and found[0] is route and found[1] is settings:
            return dict(found[2])
        merged: dict[str, Any] = {}
        for variables in reversed(caller(
            route=route, case=case, template=template, settings=settings,
        )):
            merged.update(variables or {})
        if not any("case" in impl.argnames for impl in caller.get_hookimpls()):
            if len(self._letter_variables) >= 1000:  # routes loaded again and again: no leak
                self._letter_variables.clear()
            self._letter_variables[key] = (route, settings, dict(merged))
        return merged

    def after_transition(self, ctx: RuleContext, route: Route, case: CaseSnapshot,
                         step: Step) -> None:
        caller = self._step_hook(route, step.transition, "after_transition")
        if caller is None:
            return
        if type(caller) is _DirectCaller:
            caller.positional(ctx, route, case, step)
        else:
            caller(ctx=ctx, route=route, case=case, step=step)

    # Hooks below serve every route at once (a chunk of many routes, a letter of any route):
    # every installed rule that is not switched off answers.

    def _everyone(self, name: str) -> Any:
        key = (name, ("*",))
        if key not in self._callers:
            remove = [plugin for plugin_name, plugin in self.pm.list_name_plugin()
                      if plugin_name in self.disabled]
            self._callers[key] = _direct(self.pm.subset_hook_caller(name,
                                                                    remove_plugins=remove))
        return self._callers[key]

    def preload(self, ctx: RuleContext, participant_ids: list[int]) -> None:
        """Let each rule read what it needs of a bulk chunk's people in one go."""
        self._everyone("preload")(ctx=ctx, participant_ids=participant_ids)

    def consent_recorded(self, ctx: RuleContext, participant_id: int,
                         scopes: list[str]) -> None:
        self._everyone("consent_recorded")(ctx=ctx, participant_id=participant_id,
                                           scopes=scopes)

    def consent_withdrawn(self, ctx: RuleContext, participant_id: int,
                          scopes: list[str]) -> None:
        self._everyone("consent_withdrawn")(ctx=ctx, participant_id=participant_id,
                                            scopes=scopes)

    def letter_variants(self) -> list[str]:
        """Return every variant a letter may be printed in (none: an empty list)."""
        found: dict[str, None] = {}
        for variants in reversed(self._everyone("letter_variants")()):
            found.update(dict.fromkeys(variants or []))
        return list(found)

    def variant_variables(self, variant: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for found in reversed(self._everyone("variant_variables")(variant=variant)):
            merged.update(found or {})
        return merged

    def letter_defaults(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for found in reversed(self._everyone("letter_defaults")()):
            merged.update(found or {})
        return merged


class _DirectCaller:
    """A hook caller that calls the rules' implementations itself, as pluggy does (last
    registered first, each with the arguments it names, results that are not None in order),
    without pluggy's per-call machinery: a bulk apply calls three hooks per line. The
    implementations are those installed when the rules were made (plugins are loaded then)."""

    def __init__(self, caller: Any) -> None:
        self.caller = caller
        self.calls = [(impl.function, _arguments(tuple(impl.argnames)))
                      for impl in reversed(caller.get_hookimpls())]
        # The same, for the hook's arguments given in the order of its spec (no keyword
        # dicts made per call: bulk apply asks two hooks per line).
        order = tuple(caller.spec.argnames)
        self.picks = [(impl.function, _arguments(tuple(order.index(name)
                                                       for name in impl.argnames)))
                      for impl in reversed(caller.get_hookimpls())]

    def get_hookimpls(self) -> Any:
        return self.caller.get_hookimpls()

    def __call__(self, **kwargs: Any) -> list[Any]:
        results = []
        for function, arguments in self.calls:
            result = function(*arguments(kwargs))
            if result is not None:
                results.append(result)
        return results

    def positional(self, *values: Any) -> list[Any]:
        """Call the hook with its arguments in the order its spec names them."""
        results = []
        for function, arguments in self.picks:
            result = function(*arguments(values))
            if result is not None:
                results.append(result)
        return results


def _arguments(names: tuple[Any, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """Return what picks an implementation's arguments, in order, from the call's (by name
    from a dict of them, or by position from a tuple)."""
    if not names:
        return lambda kwargs: ()
    if len(names) == 1:
        [name] = names
        return lambda kwargs: (kwargs[name],)
    return itemgetter(*names)


def _direct(caller: Any) -> Any:
    """Return caller's direct form, or caller itself when pluggy must run the hook (wrappers,
    first-result hooks, keyword-only arguments)."""
    impls = caller.get_hookimpls()
    spec = caller.spec
    if (spec is None or spec.opts.get("firstresult") or spec.opts.get("historic")
            or any(impl.hookwrapper or impl.wrapper or getattr(impl, "kwargnames", ())
                   for impl in impls)):
        return caller
    return _DirectCaller(caller)
