"""The serving export of pipeline.py (``export_serving``) pinned byte for byte.

A fixed small matrix with the edge cases (ties at the top-k cut, NaN variance of a one-cell
group, a group with no stored value, cells without a group, genes with no stored value, gene
and group names with separators, quotes, accents and a non-BMP character, many gene blocks so
that the top-k merges across blocks) goes through ``run_pipeline``; its export is compared with

* checksums of the sorted lines made by the first implementation (``groupBy("gene")
  .applyInPandas`` per gene and a ``row_number`` window per (stat, group)), pinned before it was
  replaced by the vectorised one, for the default ``TOP_MAX`` and for a cut of 3 that falls
  inside runs of ties;
* an independent pure-Python rendering of the serving layout from the views (``reference``).

Line order across part files is not part of the contract (ImportTsv and HBase sort by row key).
"""

from __future__ import annotations

import hashlib
import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from emr_patterns.jobs.widematrix import aggregate, pipeline, serving

pytestmark = pytest.mark.spark

SPECIAL = [
    "Gad1",
    "a,b",
    'say "hi"',
    "Ménage-à-trois",
    "B|x|y",
    "Z",
    "a",
    "é",
    "\u00ff",
    "\U0001f600gene",
    "\uff21wide",
    "space gene",
    "back\\slash",
    "'single'",
    "zero1",
    "zero2",
]
GENES = SPECIAL + [f"g{k:02d}" for k in range(44)]
STATS = list(serving.STATS)
VERSION = "v1pin"

#: sha256 of the sorted lines and the manifest's counts, made with the first implementation.
PINNED = {
    "default": {
        "genes": "57551ba2e145d488dc25a62dc986b448d0ee7367d5dda9148c54240d2ef7cf38",
        "top": "0bf8b947c610a079b3a6d1d949af8d8020492149a1f73a24236609a606db5502",
        "rows": {"genes": [60, 600], "top": [1567, 4701]},
    },
    "top3": {
        "genes": "57551ba2e145d488dc25a62dc986b448d0ee7367d5dda9148c54240d2ef7cf38",
        "top": "e5456a06d01941d74cfd48961b6e6cae54e290fd0d99d9a479642dc270761302",
        "rows": {"genes": [60, 600], "top": [102, 306]},
    },
}


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"') else text


def _matrix() -> tuple[np.ndarray, list[str], list[str]]:
    rng = np.random.default_rng(20261203)
    labels = ["A"] * 10 + ["B|x"] * 10 + ["groupé"] * 8 + ["solo"] + ["allzero"] * 3 + [""] * 2
    n = len(labels)
    dense = (rng.random((n, len(GENES))) < 0.5) * rng.integers(1, 6, (n, len(GENES))).astype(float)
    dense[:, GENES.index("zero1")] = 0
    dense[:, GENES.index("zero2")] = 0
    for k in (GENES.index("a"), GENES.index("é"), GENES.index("Z"), GENES.index("g07")):
        dense[:, k] = dense[:, GENES.index("Gad1")]  # identical columns: ties in every statistic
    dense[:, GENES.index("g08")] = dense[:, GENES.index("g09")]
    for name in ("\uff21wide", "\U0001f600gene"):  # UTF-8 byte order differs from UTF-16 order here
        dense[:, GENES.index(name)] = dense[:, GENES.index("g10")]
    dense[np.array(labels) == "allzero"] = 0  # a group with no stored value at all
    dense[np.array(labels) == ""] += 7  # cells without a group: must count nowhere
    cells = [f"c{k}" for k in range(n)]
    return dense, cells, labels


@pytest.fixture(scope="module")
def exported(spark, tmp_path_factory, monkeypatch_module):
    tmp = tmp_path_factory.mktemp("export")
    dense, cells, labels = _matrix()
    body = "cell_id," + ",".join(_q(g) for g in GENES) + "\n"
    for cid, row in zip(cells, dense, strict=True):
        body += cid + "," + ",".join(f"{v:g}" for v in row) + "\n"
    (tmp / "m.csv").write_text(body, encoding="utf-8")
    meta = ["cell_id,cluster"] + [f"{c},{_q(lab)}" for c, lab in zip(cells, labels, strict=True)]
    (tmp / "cells.csv").write_text("\n".join(meta) + "\n", encoding="utf-8")
    # 5 groups x 5 genes per block: 12 gene blocks, so the top-k is merged across blocks
    monkeypatch_module.setattr(aggregate, "TARGET_BLOCK_PAIRS", 25)
    manifest = pipeline.run_pipeline(
        spark,
        str(tmp / "m.csv"),
        str(tmp / "ds"),
        "cluster",
        str(tmp / "views"),
        VERSION,
        metadata_uri=str(tmp / "cells.csv"),
        stats=STATS,
    )
    out = {"default": (manifest, tmp / "views-hbase")}
    # the same views through the Spark route (the one larger views take)
    spark_route = pipeline.export_serving(
        spark, str(tmp / "ds"), str(tmp / "views"), str(tmp / "spark"), VERSION, in_process_max_values=0
    )
    out["default-spark"] = (spark_route, tmp / "spark")
    monkeypatch_module.setattr(serving, "TOP_MAX", 3)
    m3 = pipeline.export_serving(spark, str(tmp / "ds"), str(tmp / "views"), str(tmp / "top3"), VERSION)
    out["top3"] = (m3, tmp / "top3")
    m3s = pipeline.export_serving(
        spark, str(tmp / "ds"), str(tmp / "views"), str(tmp / "top3-spark"), VERSION, in_process_max_values=0
    )
    out["top3-spark"] = (m3s, tmp / "top3-spark")
    monkeypatch_module.undo()
    return {"runs": out, "views": str(tmp / "views"), "tmp": tmp}


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _lines(export, view: str) -> list[str]:
    out: list[str] = []
    for part in sorted((export / view).glob("part-*")):
        out += part.read_text(encoding="utf-8").splitlines()
    return out


def _sha(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


def reference(views: str, stats: list[str], groups: list[str], top_max: int) -> tuple[list[str], list[str]]:
    """The serving layout rendered from the views with plain Python (the spec, not the job's code)."""
    vals = {}
    for s in stats:
        df = pd.read_parquet(os.path.join(views, s))
        vals[s] = {(g, n): float(v) for g, n, v in zip(df["group"], df["gene"], df["value"], strict=True)}
    genes = []
    for gene in GENES:
        fields = [gene, VERSION]
        for s in stats:
            fields.append(",".join(repr(vals[s].get((g, gene), 0.0)) for g in groups))
        genes.append("\t".join(fields))
    top = []
    for s in stats:
        for gi, g in enumerate(groups):
            rows = [(v, n) for (grp, n), v in vals[s].items() if grp == g and not math.isnan(v)]
            rows.sort(key=lambda t: (-t[0], t[1].encode("utf-8")))  # value desc, gene bytes asc
            for r, (v, n) in enumerate(rows[:top_max]):
                top.append("\t".join((serving.top_key(s, gi, r), VERSION, n, repr(v))))
    return genes, top


RUNS = ["default", "top3", "default-spark", "top3-spark"]


@pytest.mark.parametrize("run", RUNS)
def test_export_matches_the_reference_rendering(exported, run):
    manifest, export = exported["runs"][run]
    groups = [g["group"] for g in manifest["groups"]]
    assert groups == sorted(["A", "B|x", "groupé", "solo", "allzero"])
    top_max = 3 if run.startswith("top3") else serving.TOP_MAX
    want_genes, want_top = reference(exported["views"], STATS, groups, top_max)
    got_genes, got_top = _lines(export, "genes"), _lines(export, "top")
    assert sorted(got_genes) == sorted(want_genes)
    assert sorted(got_top) == sorted(want_top)
    assert len(got_top) == len(set(got_top))
    t = manifest["tables"]
    assert t["genes"]["rows"] == len(GENES) and t["genes"]["cells"] == len(GENES) * (1 + len(STATS))
    assert t["top"]["rows"] == len(want_top) and t["top"]["cells"] == 3 * len(want_top)
    assert json.loads((export / "manifest.json").read_text()) == manifest


@pytest.mark.parametrize("run", RUNS)
def test_export_bytes_equal_the_first_implementation(exported, run):
    manifest, export = exported["runs"][run]
    got = {
        "genes": _sha(_lines(export, "genes")),
        "top": _sha(_lines(export, "top")),
        "rows": {k: [v["rows"], v["cells"]] for k, v in manifest["tables"].items()},
    }
    print(run, json.dumps(got))
    assert got == PINNED[run.removesuffix("-spark")]
    # each route writes its own part files: the driver's .tsv per gene block, Spark's .txt
    suffix = ".txt" if run.endswith("-spark") else ".tsv"
    assert {p.suffix for p in (export / "genes").glob("part-*")} == {suffix}


def test_edge_cases_are_in_the_data(exported):
    """The fixture exercises what it claims: NaN cells, all-zero genes and group, ties at the cut."""
    manifest, export = exported["runs"]["top3"]
    groups = [g["group"] for g in manifest["groups"]]
    genes = {line.split("\t", 1)[0]: line.split("\t")[2:] for line in _lines(export, "genes")}
    variance = STATS.index("variance")
    assert genes["zero1"][0] == ",".join(["0.0"] * len(groups))
    assert genes["Gad1"][variance].split(",")[groups.index("solo")] == "nan"
    assert all(v == "0.0" for row in genes.values() for v in [row[0].split(",")[groups.index("allzero")]])
    top = [line.split("\t") for line in _lines(export, "top")]
    assert not any(k.startswith(serving.top_prefix("mean", groups.index("allzero"))) for k, *_ in top)
    # the tie rule decides at the cut: (stat, group) pairs whose 3rd and 4th values are equal
    full = {}
    for k, _, g, v in (line.split("\t") for line in _lines(exported["runs"]["default"][1], "top")):
        full.setdefault(k.rsplit("|", 1)[0], []).append((k, g, float(v)))
    cut = [p for p, rows in full.items() if len(rows) > 3 and sorted(rows)[2][2] == sorted(rows)[3][2]]
    assert len(cut) >= 5, cut
    gad1 = [g for k, g, v in sorted(full[serving.top_prefix("mean", groups.index("A"))[:-1]])]
    assert [n for n in gad1 if n in ("Gad1", "Z", "a", "g07", "é")] == ["Gad1", "Z", "a", "g07", "é"]
    g10 = [g for k, g, v in sorted(full[serving.top_prefix("mean", groups.index("A"))[:-1]])]
    assert [n for n in g10 if n in ("g10", "\uff21wide", "\U0001f600gene")] == [
        "g10",
        "\uff21wide",
        "\U0001f600gene",
    ]


def _views_copy(exported, name: str, edit) -> str:
    import shutil

    src = exported["views"]
    dst = str(exported["tmp"] / name)
    shutil.copytree(src, dst)
    path = os.path.join(dst, "manifest.json")
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
    edit(m)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(m, f)
    crc = os.path.join(dst, ".manifest.json.crc")  # Hadoop's local checksum of the old bytes
    if os.path.exists(crc):
        os.remove(crc)
    return dst


def test_views_without_a_block_layout_export_the_same_bytes(spark, exported):
    """Views whose manifest has no ``blocks`` (written before it was recorded): one task, same bytes."""
    views = _views_copy(exported, "views-noblocks", lambda m: m.pop("blocks"))
    out = exported["tmp"] / "noblocks"
    m = pipeline.export_serving(spark, str(exported["tmp"] / "ds"), views, str(out), VERSION)
    assert _sha(_lines(out, "genes")) == PINNED["default"]["genes"]
    assert _sha(_lines(out, "top")) == PINNED["default"]["top"]
    assert m["tables"]["top"]["rows"] == PINNED["default"]["rows"]["top"][0]


def test_views_not_laid_out_as_their_manifest_says_fail(spark, exported):
    def shrink(m):
        m["blocks"]["genes"] = 2

    views = _views_copy(exported, "views-badblocks", shrink)
    with pytest.raises(Exception, match="not laid out as the aggregate writes them"):
        pipeline.export_serving(
            spark, str(exported["tmp"] / "ds"), views, str(exported["tmp"] / "badblocks"), VERSION
        )
