"""Small serving exports written straight from numpy arrays (no Spark), for the read-handler
tests: the same TSV layout ``pipeline.export_serving`` writes (``serving``), so they load with
the same bulk-load commands. The Spark export itself is tested in tests/jobs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from emr_patterns.jobs.widematrix import serving


def write_export(
    out: Path, version: str, genes: list[str], groups: list[str], values: dict[str, np.ndarray]
) -> dict[str, Any]:
    """``values[stat]`` is genes x groups; zeros are left out of the top table, as in the views."""
    stats = list(values)
    (out / "genes").mkdir(parents=True)
    (out / "top").mkdir()
    lines = []
    for i, gene in enumerate(genes):
        cols = [serving.VALUE_SEP.join(serving.format_value(v) for v in values[s][i]) for s in stats]
        lines.append("\t".join([gene, version, *cols]))
    (out / "genes" / "part-00000").write_text("\n".join(lines) + "\n", encoding="utf-8")
    top = []
    for s in stats:
        for g in range(len(groups)):
            ranked = sorted(
                ((gene, values[s][i, g]) for i, gene in enumerate(genes) if values[s][i, g] != 0),
                key=lambda t: (-t[1], t[0]),
            )[: serving.TOP_MAX]
            top += [
                "\t".join((serving.top_key(s, g, r), version, gene, serving.format_value(v)))
                for r, (gene, v) in enumerate(ranked)
            ]
    (out / "top" / "part-00000").write_text("\n".join(top) + "\n", encoding="utf-8")
    manifest = {
        "kind": "widematrix-hbase-export",
        "version": version,
        "group_by": "cluster",
        "stats": stats,
        "groups": [{"group": g, "cells": 10 + k} for k, g in enumerate(groups)],
        "genes": len(genes),
        "tables": {
            "genes": {"rows": len(genes), "cells": len(genes) * (1 + len(stats))},
            "top": {"rows": len(top), "cells": 3 * len(top)},
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return manifest
