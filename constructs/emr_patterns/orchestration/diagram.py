"""State-machine diagrams: a Mermaid flowchart drawn from an Amazon States Language definition.

:func:`asl_to_mermaid` reads the ASL as deployed (the ``DefinitionString`` of a synthesized
template, parsed), not the Python objects that built it, so a diagram in the docs shows what
runs. Tasks show their integration (``createCluster.sync``, ``startNotebookExecution``...),
Choice edges their condition, Catch edges the errors they catch (dashed), and Map and Parallel
states their inner states as subgraphs. Pure Python: no CDK import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["asl_to_mermaid", "definition_of", "update_diagrams"]

#: Marks a generated diagram in a Markdown page: ``<!-- diagram: <StackId> -->`` (or
#: ``<StackId>/<machine logical id without its hash>``) ... ``<!-- /diagram -->``.
DIAGRAM_RE = re.compile(
    r"(<!-- diagram: (?P<stack>[A-Za-z0-9-]+)(?:/(?P<machine>[A-Za-z0-9]+))? -->\n)"
    r"(?P<body>.*?)(<!-- /diagram -->)",
    re.S,
)

_ID_RE = re.compile(r"[^A-Za-z0-9_]")


def _node_id(prefix: str, name: str) -> str:
    return prefix + _ID_RE.sub("_", name)


def _label(text: str) -> str:
    return text.replace('"', "'").replace("<", "#lt;").replace(">", "#gt;")


def _resource(state: Mapping[str, Any]) -> str:
    """The short name of a Task's integration: ``createCluster.sync``, ``s3:getObject``..."""
    resource = str(state.get("Resource", ""))
    tail = resource.split(":::", 1)[-1]
    if tail.startswith("aws-sdk:"):
        return tail[len("aws-sdk:") :]
    return tail.split(":", 1)[-1] if ":" in tail else tail


def _condition(rule: Mapping[str, Any]) -> str:
    """A short text for a Choice rule."""
    for combinator in ("And", "Or"):
        if combinator in rule:
            parts = [_condition(r) for r in rule[combinator]]
            if len(parts) > 2:
                return f"{combinator.lower()} of {len(parts)} checks"
            return f" {combinator.lower()} ".join(parts)
    if "Not" in rule:
        return f"not {_condition(rule['Not'])}"
    variable = str(rule.get("Variable", "")).removeprefix("$.")
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key.startswith("Is"):
            return f"{variable} {'is' if value else 'is not'} {key[2:].lower()}"
        if key.startswith("Numeric"):
            op = key[len("Numeric") :].replace("GreaterThanEquals", ">=").replace("GreaterThan", ">")
            op = op.replace("LessThanEquals", "<=").replace("LessThan", "<")
            return f"{variable} {op} {value}"
        if key.endswith("Equals") and not key.endswith("Path"):
            return f"{variable} = {value}"
        return f"{variable} {key} {value}"
    return "?"


def _shape(node: str, name: str, state: Mapping[str, Any]) -> str:
    kind = state["Type"]
    if kind == "Task":
        return f'{node}["{_label(name)}<br/><small>{_label(_resource(state))}</small>"]'
    if kind == "Choice":
        return f'{node}{{"{_label(name)}"}}'
    if kind == "Fail":
        error = state.get("Error") or state.get("ErrorPath", "")
        return f'{node}(["{_label(name)}<br/><small>fail {_label(str(error))}</small>"])'
    if kind == "Succeed":
        return f'{node}(["{_label(name)}"])'
    if kind == "Wait":
        seconds = state.get("Seconds", state.get("SecondsPath", ""))
        return f'{node}(("{_label(name)}<br/><small>wait {seconds}</small>"))'
    return f'{node}["{_label(name)}"]'


def _machine(machine: Mapping[str, Any], prefix: str, lines: list[str], indent: str) -> None:
    states: Mapping[str, Any] = machine["States"]
    ids = {name: _node_id(prefix, name) for name in states}
    for name, state in states.items():
        node = ids[name]
        bodies = [state["ItemProcessor"]] if "ItemProcessor" in state else []
        bodies += [state["Iterator"]] if "Iterator" in state else []
        bodies += list(state.get("Branches", []))
        if bodies:
            lines.append(f'{indent}subgraph {node}["{_label(name)} ({state["Type"]})"]')
            for i, body in enumerate(bodies):
                _machine(body, f"{node}_{i}_", lines, indent + "  ")
            lines.append(f"{indent}end")
        else:
            lines.append(indent + _shape(node, name, state))
    for name, state in states.items():
        node = ids[name]
        if "Next" in state:
            lines.append(f"{indent}{node} --> {ids[state['Next']]}")
        for rule in state.get("Choices", []):
            lines.append(f'{indent}{node} -->|"{_label(_condition(rule))}"| {ids[rule["Next"]]}')
        if "Default" in state:
            lines.append(f'{indent}{node} -->|"otherwise"| {ids[state["Default"]]}')
        for catch in state.get("Catch", []):
            errors = ", ".join(catch["ErrorEquals"])
            lines.append(f'{indent}{node} -.->|"{_label(errors)}"| {ids[catch["Next"]]}')


def asl_to_mermaid(asl: Mapping[str, Any], *, direction: str = "TD") -> str:
    """A Mermaid ``flowchart`` of ``asl`` (a parsed state-machine definition).

    Args:
        asl: the definition, as ``json.loads`` of a ``DefinitionString``.
        direction: Mermaid direction, ``TD`` (top-down) or ``LR``. Default ``TD``.
    """
    if direction not in ("TD", "LR"):
        raise ValueError(f"direction={direction!r}: must be 'TD' or 'LR'. Fix: pass direction='TD'")
    lines = [f"flowchart {direction}"]
    start = _node_id("", "__start")
    lines.append(f"  {start}((start))")
    _machine(asl, "", lines, "  ")
    lines.append(f"  {start} --> {_node_id('', asl['StartAt'])}")
    return "\n".join(lines) + "\n"


def _deployed(value: Any) -> str:
    """A CloudFormation string value with each reference as a readable placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Fn::Join":
            return str(arg[0]).join(_deployed(p) for p in arg[1])
        if fn == "Ref":
            return "aws" if arg == "AWS::Partition" else f"${{{arg}}}"
        if fn == "Fn::GetAtt":
            return f"${{{arg[0]}.{arg[1]}}}"
        if fn == "Fn::ImportValue":
            return f"${{Import:{_deployed(arg)}}}"
        if fn == "Fn::Sub":
            return str(arg)
    raise ValueError(f"cannot render {value!r} as a string")


def definition_of(template: Mapping[str, Any], machine: str | None = None) -> dict[str, Any]:
    """The state machine of a synthesized ``template``, its ``DefinitionString`` parsed: the
    template's only one, or the one whose logical id is ``machine`` followed by aws-cdk's hash."""
    import json

    machines = [
        r
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and (machine is None or re.fullmatch(f"{machine}[0-9A-F]{{8}}", logical_id))
    ]
    if len(machines) != 1:
        which = f" with logical id {machine}<hash>" if machine else ""
        raise ValueError(f"the template has {len(machines)} state machines{which}, not one")
    parsed: dict[str, Any] = json.loads(_deployed(machines[0]["Properties"]["DefinitionString"]))
    return parsed


def update_diagrams(markdown: str, templates: Mapping[str, Mapping[str, Any]]) -> str:
    """``markdown`` with every marked diagram block redrawn from the stack it names."""

    def redraw(match: re.Match[str]) -> str:
        diagram = asl_to_mermaid(definition_of(templates[match["stack"]], match["machine"]))
        return f"{match.group(1)}```mermaid\n{diagram}```\n{match.group(5)}"

    return DIAGRAM_RE.sub(redraw, markdown)
