"""A casework route file as BPMN: one user task per state, an exclusive gateway on the trigger.

Each state that is not final becomes a user task; completing it with `trigger` in its data is
one transition: the gateway after it follows the flow whose condition names that trigger to the
next state's task (or to an end event for a final state). A trigger the state does not accept
matches no flow, and SpiffWorkflow refuses it. Standard library only: the SpiffWorkflow side of
the bench imports it from its own environment.

Usage: python bench/spiff/route_bpmn.py ROUTE.toml OUT.bpmn
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


def route_bpmn(route: dict) -> tuple[str, str]:
    """Return (process id, BPMN XML) for a parsed route file."""
    meta = route["workflow"]
    states: dict[str, dict] = route["states"]
    final = {name for name, state in states.items() if state.get("final")}
    open_states = [name for name in states if name not in final]
    # destination per (source state, trigger), in the route file's order
    exits: dict[str, dict[str, list[str]]] = {name: {} for name in open_states}
    for transition in route["transitions"]:
        sources = transition["source"]
        if sources == "*":
            sources = open_states
        elif isinstance(sources, str):
            sources = [sources]
        for source in sources:
            exits[source].setdefault(transition["dest"], []).append(transition["trigger"])

    process = meta["id"].replace("-", "_")
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:xsi="{XSI_NS}" '
        f'id="{process}_definitions" targetNamespace="https://casework.invalid/bench">',
        f'  <bpmn:process id="{process}" name={quoteattr(meta["label"])} isExecutable="true">',
        '    <bpmn:startEvent id="start" />',
        f'    <bpmn:sequenceFlow id="flow_start" sourceRef="start" '
        f'targetRef="{meta["initial"]}" />',
    ]
    for name in final:
        out.append(f'    <bpmn:endEvent id="{name}" name={quoteattr(states[name]["label"])} />')
    for name in open_states:
        gateway = f"choose_{name}"
        out.append(f'    <bpmn:userTask id="{name}" name={quoteattr(states[name]["label"])} />')
        out.append(f'    <bpmn:exclusiveGateway id="{gateway}" />')
        out.append(f'    <bpmn:sequenceFlow id="flow_{name}" sourceRef="{name}" '
                   f'targetRef="{gateway}" />')
        for dest, triggers in exits[name].items():
            condition = (f"trigger == {triggers[0]!r}" if len(triggers) == 1
                         else f"trigger in {tuple(triggers)!r}")
            out.append(f'    <bpmn:sequenceFlow id="flow_{name}_{dest}" sourceRef="{gateway}" '
                       f'targetRef="{dest}">')
            out.append(f'      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                       f'{escape(condition)}</bpmn:conditionExpression>')
            out.append('    </bpmn:sequenceFlow>')
    out += ['  </bpmn:process>', '</bpmn:definitions>', '']
    return process, "\n".join(out)


def main() -> None:
    route = tomllib.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    Path(sys.argv[2]).write_text(route_bpmn(route)[1], encoding="utf-8")


if __name__ == "__main__":
    main()
