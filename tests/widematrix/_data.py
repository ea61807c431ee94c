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


class S3Mirror:
    """An S3 bucket on moto whose objects are also files under ``root`` (``root/<key>``).

    Stand-in, named as such: the admin handler reads the export manifest from S3 (moto here), but
    the HBase fixture's bulk-load tools have no S3 filesystem (no ``hadoop-aws`` on its classpath,
    and moto is not a Hadoop filesystem), so they read the same files from local disk: ``local``
    maps every ``s3://<bucket>/<key>`` the handler hands out to ``file://<root>/<key>``.
    """

    def __init__(self, client: Any, bucket: str, root: Path) -> None:
        self.client, self.bucket, self.root = client, bucket, root

    def path(self, key: str) -> Path:
        return self.root / key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def local(self, uri: str) -> str:
        head = f"s3://{self.bucket}/"
        assert uri.startswith(head), uri
        return self.path(uri[len(head) :]).as_uri() + ("/" if uri.endswith("/") else "")

    def publish(self, prefix: str) -> str:
        """Upload every file under ``root/<prefix>`` to ``<prefix>...``; the prefix's S3 URI."""
        prefix = prefix.rstrip("/") + "/"
        for file in sorted(self.path(prefix).rglob("*")):
            if file.is_file():
                key = file.relative_to(self.root).as_posix()
                self.client.put_object(Bucket=self.bucket, Key=key, Body=file.read_bytes())
        return self.uri(prefix)
