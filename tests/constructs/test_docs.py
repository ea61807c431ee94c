"""The props tables in docs/ name exactly the props the constructs take."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import emr_patterns.foundation.options as options

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _props_table(path: Path, heading: str) -> dict[str, set[str]]:
    """First column group -> props listed, from the markdown table below ``heading``."""
    text = path.read_text()
    section = text[text.index(heading) :]
    section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else None]
    table: dict[str, set[str]] = {}
    group = ""
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith(("| ---", "| Options")):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0]:
            group = re.findall(r"`(\w+)`", cells[0])[0]
        table.setdefault(group, set()).update(re.findall(r"`(\w+)`", cells[1]))
    return table


def test_foundation_props_table_lists_every_option_and_nothing_else():
    table = _props_table(DOCS / "foundation.md", "## Props and defaults")
    expected = {
        cls.__name__: {f.name for f in dataclasses.fields(cls)}
        for cls in (
            options.NetworkOptions,
            options.StorageOptions,
            options.RoleOptions,
            options.SecurityOptions,
        )
    }
    assert table == expected


def _single_props_table(path: Path, heading: str) -> set[str]:
    text = path.read_text()
    section = text[text.index(heading) :].split("\n## ", 1)[0]
    props = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            props.update(re.findall(r"`(\w+)`", line.split("|")[1]))
    return props


def test_cluster_props_table_lists_every_prop_of_emr_cluster():
    import inspect

    from emr_patterns.compute.cluster import EmrCluster

    params = set(inspect.signature(EmrCluster.__init__).parameters) - {"self", "scope", "id"}
    assert _single_props_table(DOCS / "cluster.md", "## Props") == params
