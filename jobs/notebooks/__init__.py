"""The two sample notebooks of the notebook pipeline, and what a construct needs to know about them.

* ``daily_top_states.ipynb``: for one day, the top-K states by confirmed cases and the fatality
  rates of some states; writes ``{"date", "top_state", "top_k", ...}`` to ``RESULT_URI``.
* ``trailing_n_days.ipynb``: the trailing N-day confirmed series and growth of one state (the
  first notebook's ``top_state``); writes its result JSON to ``RESULT_URI``.

Both run on the EMR PySpark kernel (``spark`` predefined) through ``StartNotebookExecution``:
the ``NotebookParams`` JSON replaces the values of the cell tagged ``parameters`` (papermill adds
a cell of assignments after it). ``parameter_names`` reads that cell, so a construct can refuse a
``NotebookParams`` key the notebook does not define (``check_params``) at synth time.

Standard library only, Python 3.9 syntax: importable anywhere, without Spark.
"""

import ast
import json
import os
from typing import Any, Dict, List, Mapping, Tuple

__all__ = [
    "NOTEBOOKS",
    "PARAMETERS_TAG",
    "check_params",
    "code_cells",
    "parameter_defaults",
    "parameter_names",
    "parameters_cell",
    "source_with_parameters",
]

_HERE = os.path.dirname(os.path.abspath(__file__))

#: Notebook name -> path of the ``.ipynb`` file shipped in this package.
NOTEBOOKS: Dict[str, str] = {
    "daily_top_states": os.path.join(_HERE, "daily_top_states.ipynb"),
    "trailing_n_days": os.path.join(_HERE, "trailing_n_days.ipynb"),
}
#: The cell tag papermill (and so ``StartNotebookExecution``) looks for.
PARAMETERS_TAG = "parameters"


def _load(path: str) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def code_cells(path: str) -> List[Tuple[int, str, Tuple[str, ...]]]:
    """``(cell index, source, tags)`` of every code cell, in notebook order."""
    cells = _load(path).get("cells", [])
    return [
        (i, _source(c), tuple(c.get("metadata", {}).get("tags", ())))
        for i, c in enumerate(cells)
        if c.get("cell_type") == "code"
    ]


def parameters_cell(path: str) -> str:
    """The source of the one code cell tagged ``parameters``; ``ValueError`` unless exactly one."""
    tagged = [source for _, source, tags in code_cells(path) if PARAMETERS_TAG in tags]
    if len(tagged) != 1:
        raise ValueError(f"{path}: {len(tagged)} code cells tagged '{PARAMETERS_TAG}', need exactly one")
    return tagged[0]


def _assignments(path: str) -> List[Tuple[str, ast.expr]]:
    out = []
    for node in ast.parse(parameters_cell(path), filename=path).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out.append((node.targets[0].id, node.value))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out.append((node.target.id, node.value))
        else:
            raise ValueError(
                f"{path}: the parameters cell may hold only `NAME = literal` lines (line {node.lineno})"
            )
    return out


def parameter_names(path: str) -> Tuple[str, ...]:
    """The names the parameters cell assigns, in order: the keys ``NotebookParams`` may set."""
    return tuple(name for name, _ in _assignments(path))


def parameter_defaults(path: str) -> Dict[str, Any]:
    """Name -> the parameters cell's value (Python literals)."""
    return {name: ast.literal_eval(value) for name, value in _assignments(path)}


def check_params(path: str, params: Mapping[str, Any]) -> List[str]:
    """Problems with ``params`` as ``NotebookParams`` for the notebook at ``path`` (empty: fine)."""
    names = parameter_names(path)
    return [
        f"NotebookParams key {key!r} is not a parameter of {os.path.basename(path)} "
        f"(its parameters: {', '.join(names)})"
        for key in params
        if key not in names
    ]


def source_with_parameters(path: str, params: Mapping[str, Any]) -> str:
    """The notebook's code as one script, with ``params`` assigned after the parameters cell,
    the way papermill runs it (to run a notebook locally: ``exec(source, {"spark": spark})``)."""
    problems = check_params(path, params)
    if problems:
        raise ValueError("; ".join(problems))
    parts = []
    for _, source, tags in code_cells(path):
        parts.append(source)
        if PARAMETERS_TAG in tags:
            parts.append("# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items()))
    return "\n\n".join(parts) + "\n"
