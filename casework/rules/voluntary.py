"""voluntary: people may always decline, nothing is a sanction, the invitation says so.

- validation: every open state has a decline step to a final state that plans nothing else; no
  transition is marked ``sanction`` or ``benefit`` (touching benefit data);
- the invitation carries the voluntariness sentence unless the project chose the variant
  without it (``rules.voluntary.invitation_variant``); the variant is recorded on the invite
  event and the case so response per variant can be reported.

A route names its decline step, invitation steps and invitation letter in its ``[voluntary]``
section (the keys below); the defaults are Kansen in Kaart's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from casework.route_format import Key
from casework.rules.hookspecs import RuleContext, Setting, hookimpl

if TYPE_CHECKING:
    from casework.engine import Step
    from casework.workflow import Route, TransitionSpec

NAME = "voluntary"
VARIANTS = ("with_sentence", "without_sentence")
SETTING = "rules.voluntary.invitation_variant"
KEYS = (
    Key("decline", "name", "decline", "The step by which a person declines; every open state "
        "needs it, to a final state.", '"decline"', hint="a trigger name"),
    Key("invitation", "names", ("invite",), "The steps that invite; the invitation variant is "
        "recorded on them.", '["invite"]', noun="trigger"),
    Key("letter", "letter", "uitnodiging", "The invitation letter, printed with or without "
        "the sentence that participation is voluntary.", '"uitnodiging"'),
)


def _option(route: Route, key: str) -> Any:
    options = route.rule_options.get(NAME) or {k.name: k.default for k in KEYS}
    return options[key]


@hookimpl
def route_keys() -> list[Key]:
    return list(KEYS)


@hookimpl
def rule_settings() -> list[Setting]:
    return [Setting(SETTING, "with_sentence", "invitation letter variant: with_sentence (says "
                    "participation is voluntary) or without_sentence", choices=VARIANTS)]


@hookimpl
def letter_variants() -> list[str]:
    return list(VARIANTS)


@hookimpl
def variant_variables(variant: str) -> dict[str, Any]:
    return {"voluntary_sentence": variant == "with_sentence"} if variant in VARIANTS else {}


@hookimpl
def letter_defaults() -> dict[str, Any]:
    return {"voluntary_sentence": False}


@hookimpl
def check_route(route: Route) -> list[str]:
    problems = []
    declining = _option(route, "decline")
    for state in route.states.values():
        if state.final:
            continue
        decline = route.transition(declining, state.name)
        if decline is None or not route.is_final(decline.dest):
            problems.append(
                f"state '{state.name}': a voluntary route needs a '{declining}' to a final "
                "state from every open state (rule voluntary)"
            )
    for t in route.transitions:
        where = f"transition '{t.trigger}' from '{t.source}'"
        if t.sanction:
            problems.append(f"{where}: marked as a sanction; a voluntary route has none "
                            "(rule voluntary)")
        if t.benefit:
            problems.append(f"{where}: touches benefit data; answers in a voluntary route "
                            "never affect the benefit (rule voluntary)")
        if t.trigger == declining and (t.records or t.needs):
            problems.append(f"{where}: declining may only close the case (no data needed, "
                            "nothing recorded besides the closing) (rule voluntary)")
    return problems


def invitation_variant(settings: Any) -> str:
    return str(settings[SETTING])


@hookimpl
def letter_variables(route: Route, template: str, settings: Any) -> dict[str, Any]:
    if template != _option(route, "letter"):
        return {}
    variant = invitation_variant(settings)
    return {"variant": variant, **variant_variables(variant)}


@hookimpl
def transition_hooks(route: Route, transition: TransitionSpec) -> list[str]:
    """Only an invitation records the variant of its letter."""
    return ["after_transition"] if transition.trigger in _option(route, "invitation") else []


@hookimpl
def after_transition(ctx: RuleContext, route: Route, step: Step) -> None:
    if step.trigger in _option(route, "invitation"):
        variant = invitation_variant(ctx.engine.settings)
        step.data["invitation_variant"] = variant
        step.case_data["invitation_variant"] = variant
