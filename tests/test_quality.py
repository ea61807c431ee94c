"""The code stays ruff-clean and type-checks, as part of `make test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)


def test_ruff_clean():
    proc = _run(str(BIN / "ruff"), "check", ".")
    assert proc.returncode == 0, proc.stdout[-6000:]


@pytest.mark.slow
def test_mypy_clean_on_constructs():
    proc = _run(str(BIN / "mypy"))
    assert proc.returncode == 0, proc.stdout[-6000:]


def _py39_problems(path: Path) -> list[str]:
    """Syntax newer than Python 3.9, and annotations that only evaluate on 3.10+ (``X | Y``)."""
    import ast

    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=str(path), feature_version=(3, 9))
    except SyntaxError as exc:
        return [f"{path}:{exc.lineno}: not Python 3.9 syntax ({exc.msg})"]
    if any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    ):
        return []  # annotations are strings: never evaluated
    problems = []
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            annotations += [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
            annotations += [args.vararg.annotation if args.vararg else None]
            annotations += [args.kwarg.annotation if args.kwarg else None, node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for ann in annotations:
            if ann is not None and any(
                isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr) for n in ast.walk(ann)
            ):
                problems.append(f"{path}:{ann.lineno}: `X | Y` annotation needs Python 3.10")
    return problems


def test_job_code_runs_on_the_cluster_python_3_9(tmp_path):
    """EMR 7 runs Python 3.9 by default: job code must parse and define its functions there."""
    files = sorted((REPO / "jobs").rglob("*.py"))
    assert len(files) > 5
    problems = [p for f in files for p in _py39_problems(f)]
    assert not problems, "\n".join(problems)
    bad = tmp_path / "probe.py"  # the check itself catches both kinds of problem
    bad.write_text("def f(x):\n    match x:\n        case _:\n            pass\n")
    assert "not Python 3.9 syntax" in _py39_problems(bad)[0]
    bad.write_text("def f(x: int | None) -> None:\n    pass\n")
    assert "needs Python 3.10" in _py39_problems(bad)[0]
