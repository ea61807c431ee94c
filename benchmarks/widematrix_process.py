"""Wide-matrix benchmark as whole processes, cold: one Spark application per upload (issue 10).

Run: ``.venv/bin/python benchmarks/widematrix_process.py [--quick] [--tiers 5k,50k]
[--skip source@50k,...] [--no-bulk-load] [--write]``

Per shape (tier ``5k``: 20,000 cells x 5,000 genes; ``50k``: 20,000 x 50,000; ``--quick``: 4,000 x
1,000), the data (``benchmarks/widematrix.py``'s ``generate``: 10x-like counts, 20 groups) is written
once as a wide CSV plus a metadata CSV, and every contender reads those same two files, each as its
own cold OS process (a fresh ``spark-submit``: JVM, SparkContext, Python workers), one after
another in the same run:

* ``noop``: ``benchmarks/noop_app.py``, a Spark application that does nothing (the start-up cost);
* ``pipeline``: ``jobs/widematrix/pipeline.py`` (ingest, aggregate with all default statistics,
  the HBase-ready serving export), one ``spark-submit``;
* ``two_step``: ``jobs/widematrix/ingest.py`` then ``jobs/widematrix/aggregate.py`` (all default
  statistics, its own HBase-ready export on, as it defaults to), two ``spark-submit`` runs;
* ``source``: ``benchmarks/source_design_app.py``, the source design (wide DataFrame, one
  GROUPED_AGG pandas UDF per gene, 500 columns per job, **mean only**), one ``spark-submit``.

All run with the same ``spark-submit`` settings (``SUBMIT_CONF``: ``local[2]``, driver memory
12g, 8 shuffle partitions, Arrow on, no UI) and the ``.venv`` Python. Each process's wall time is
measured from fork to exit, with ``/proc/loadavg`` read before and after it and the CPU seconds
it and its children used. The outputs are checked before the figures are reported: both of our
contenders' views (all five statistics) and the pipeline export's ``mean`` column against a scipy
reference, and the source design's means against the same reference, so that every contender did
the work it claims.

Bulk load (the largest shape run, unless ``--no-bulk-load``): the pipeline's HBase-ready export
(genes and top tables, every default statistic) is loaded into a real local HBase 2.6 (standalone
+ Thrift, ``tests/widematrix/_hbase.py``) with ``serving.bulk_load_commands`` (ImportTsv bulk
output, then BulkLoadHFilesTool), the two views in parallel as the EMR steps can run them; then
every row is scanned back through Thrift and the rows and cells counted against the export
manifest.

Raw figures go to ``<workdir>/results.json`` as they are made; ``--write`` puts a section into
``benchmarks/RESULTS.md`` (replacing an earlier section of this benchmark, keeping the others).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

_spec = importlib.util.spec_from_file_location("widematrix_bench", HERE / "widematrix.py")
assert _spec and _spec.loader
wmb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wmb)

SECTION = "## Whole-process benchmark: one Spark application per upload"
TIERS = {"quick": (4_000, 1_000), "5k": (20_000, 5_000), "50k": (20_000, 50_000)}
N_GROUPS = 20
VERSION = "v1"
CONTENDERS = ("noop", "pipeline", "two_step", "source")
SUBMIT_CONF = {
    "spark.master": "local[2]",
    "spark.driver.memory": "12g",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
}
JAVA17 = "/usr/lib/jvm/java-17-openjdk-amd64"
TARGETS = {"5k": 10.0, "50k": 50.0}


def settle(seconds: float = 10.0) -> None:
    """Write the just-generated data to disk (``sync``) and let the load fall before the first
    timed process: otherwise the kernel's write-back of a 2 GiB CSV runs during whichever
    contender comes first."""
    t0 = time.perf_counter()
    os.sync()
    time.sleep(seconds)
    print(f"  settled: sync and {seconds:.0f} s pause in {time.perf_counter() - t0:.1f} s; load {loadavg()}")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def spark_submit_argv(script: Path, args: list[str]) -> list[str]:
    import pyspark

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    argv = [str(submit)]
    for k, v in SUBMIT_CONF.items():
        argv += ["--conf", f"{k}={v}"]
    return [*argv, str(script), *args]


def submit_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARK_HOME")}
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    if Path(JAVA17).is_dir():
        env["JAVA_HOME"] = JAVA17
    return env


def run_process(name: str, script: Path, args: list[str], log: Path, timeout: float | None) -> dict[str, Any]:
    """One cold ``spark-submit``: wall time from fork to exit, load average before and after."""
    before = loadavg()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started_epoch = time.time()
    t0 = time.perf_counter()
    with log.open("wb") as out:
        done = subprocess.run(
            spark_submit_argv(script, args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=submit_env(),
            cwd=REPO,
            timeout=timeout,
            check=False,
        )
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    res = {
        "name": name,
        "wall_s": wall,
        "cpu_s": cpu,
        "rc": done.returncode,
        "load_before": before,
        "load_after": loadavg(),
        "started_epoch": started_epoch,
        "log": str(log),
    }
    print(
        f"  {name:<16} {wall:8.1f} s wall, {cpu:8.1f} s CPU, rc {done.returncode}, "
        f"load {before} -> {res['load_after']}",
        flush=True,
    )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{name} exited with {done.returncode}; log {log}:\n{tail}")
    return res


# ------------------------------------------------------------------------------------------------
# output checks


def max_rel(got: np.ndarray, want: np.ndarray) -> float:
    diff = np.abs(got - want)
    err = np.where(diff < 1e-9, 0.0, diff / np.maximum(np.abs(want), 1e-9))
    return float(np.nanmax(err))


def check_source(npz: Path, ref_mean: np.ndarray) -> float:
    z = np.load(npz)
    gi = np.array([int(g[1:]) for g in z["groups"]])
    gj = np.array([int(g[1:]) for g in z["genes"]])
    got = np.zeros_like(ref_mean)
    got[np.ix_(gi, gj)] = z["mean"]
    assert len(gi) == ref_mean.shape[0] and len(gj) == ref_mean.shape[1], (len(gi), len(gj))
    return max_rel(got, ref_mean)


def check_export(export: Path, ref_mean: np.ndarray) -> tuple[float, dict[str, Any]]:
    """The export's genes TSV, ``mean`` column (one value per group, groups in manifest order)."""
    manifest = json.loads((export / "manifest.json").read_text())
    stats = manifest["stats"]
    col = 2 + stats.index("mean")
    groups = [int(g["group"][1:]) for g in manifest["groups"]]
    got = np.full_like(ref_mean, np.nan)
    lines = 0
    for part in sorted((export / "genes").glob("part-*")):
        with part.open() as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                assert fields[1] == manifest["version"]
                got[groups, int(fields[0][1:])] = np.array(fields[col].split(","), dtype=np.float64)
                lines += 1
    assert lines == manifest["tables"]["genes"]["rows"] == ref_mean.shape[1], lines
    top = sum(1 for part in (export / "top").glob("part-*") for _ in part.open())
    assert top == manifest["tables"]["top"]["rows"], (top, manifest["tables"]["top"])
    return max_rel(got, ref_mean), manifest


# ------------------------------------------------------------------------------------------------
# bulk load


def bulk_load(export: Path, work: Path) -> dict[str, Any]:
    """Start a local HBase, load both views of ``export`` in parallel, scan them back and count."""
    from emr_patterns.jobs.widematrix import serving
    from tests.widematrix._hbase import start_hbase

    manifest = json.loads((export / "manifest.json").read_text())
    stats = manifest["stats"]
    res: dict[str, Any] = {"load_before": loadavg()}
    t0 = time.perf_counter()
    hbase = start_hbase(work / "hbase")
    res["hbase_start_s"] = time.perf_counter() - t0
    try:
        tables = serving.table_names("bench", manifest["version"])
        conn = hbase.connection()
        try:
            for table in tables.values():
                conn.create_table(table, {serving.FAMILY: {"max_versions": 1}})
        finally:
            conn.close()

        def load(view: str) -> dict[str, float]:
            out: dict[str, float] = {}
            hfiles = work / f"hfiles-{view}"
            shutil.rmtree(hfiles, ignore_errors=True)
            cmds = serving.bulk_load_commands(
                view, stats, tables[view], (export / view).as_uri(), hfiles.as_uri()
            )
            for argv in cmds:
                t = time.perf_counter()
                hbase.run_tool(serving.HBASE_COMMAND_CLASSES[argv[1]], argv[2:], timeout=3600)
                out[argv[1]] = time.perf_counter() - t
            return out

        t0 = time.perf_counter()
        with ThreadPoolExecutor(len(tables)) as pool:
            per_view = dict(zip(tables, pool.map(load, tables), strict=True))
        res["load_s"] = time.perf_counter() - t0
        res["per_view_s"] = per_view
        res["load_after"] = loadavg()
        counted: dict[str, dict[str, int]] = {}
        conn = hbase.connection()
        try:
            t0 = time.perf_counter()
            for view, table in tables.items():
                rows = cells = 0
                for _key, data in conn.table(table).scan(batch_size=2000):
                    rows += 1
                    cells += len(data)
                counted[view] = {"rows": rows, "cells": cells}
            res["scan_s"] = time.perf_counter() - t0
        finally:
            conn.close()
    finally:
        hbase.stop()
    res["counted"] = counted
    res["manifest"] = {v: {k: manifest["tables"][v][k] for k in ("rows", "cells")} for v in tables}
    res["tsv_bytes"] = {v: sum(p.stat().st_size for p in (export / v).glob("part-*")) for v in tables}
    ok = counted == res["manifest"]
    res["counts_match"] = ok
    print(
        f"  bulk load {res['load_s']:.1f} s (HBase start {res['hbase_start_s']:.1f} s, "
        f"scan back {res['scan_s']:.1f} s): counted {counted} vs manifest {res['manifest']} "
        f"({'match' if ok else 'MISMATCH'})",
        flush=True,
    )
    if not ok:
        raise RuntimeError(f"bulk-loaded rows/cells {counted} differ from the manifest {res['manifest']}")
    return res


# ------------------------------------------------------------------------------------------------


def pipeline_phases(run: dict[str, Any], ds: Path, views: Path, export: Path) -> dict[str, Any]:
    """Phase boundaries of the pipeline process from when each output's manifest was written
    (each is written last), and the jobs' own phase timings from their manifests."""
    t0, end = run["started_epoch"], run["started_epoch"] + run["wall_s"]
    m_ds, m_v, m_e = (p / "manifest.json" for p in (ds, views, export))
    a, b, c = (p.stat().st_mtime for p in (m_ds, m_v, m_e))
    return {
        "start_and_ingest_s": a - t0,
        "aggregate_s": b - a,
        "export_s": c - b,
        "stop_s": end - c,
        "ingest_phases": json.loads(m_ds.read_text()).get("timings_s"),
        "aggregate_phases": json.loads(m_v.read_text()).get("timings_s"),
    }


def run_tier(tier: str, work: Path, skip: set[str], timeout: float | None, do_load: bool) -> dict[str, Any]:
    n_cells, n_genes = TIERS[tier]
    tdir = work / tier
    shutil.rmtree(tdir, ignore_errors=True)
    tdir.mkdir(parents=True)
    print(f"{tier}: {n_cells:,} x {n_genes:,}, {N_GROUPS} groups", flush=True)
    t0 = time.perf_counter()
    m, g = wmb.generate(n_cells, n_genes, N_GROUPS)
    csv, meta = tdir / "m.csv", tdir / "meta.csv"
    wmb.write_wide_csv(m, g, str(csv), str(meta))
    t_ref, ref = wmb.scipy_reference(m, g, N_GROUPS)
    print(
        f"  data: nnz {m.nnz:,}, CSV {csv.stat().st_size / 2**30:.2f} GiB, written in "
        f"{time.perf_counter() - t0:.0f} s; scipy reference {t_ref:.1f} s",
        flush=True,
    )
    settle()
    out: dict[str, Any] = {
        "tier": tier,
        "shape": [n_cells, n_genes],
        "nnz": int(m.nnz),
        "csv_bytes": csv.stat().st_size,
        "scipy_s": t_ref,
        "runs": {},
        "checks": {},
    }
    del m
    jobs = REPO / "jobs" / "widematrix"
    common = ["--group-by", "cluster"]
    for name in CONTENDERS:
        if f"{name}@{tier}" in skip or name in skip:
            print(f"  {name}: skipped", flush=True)
            continue
        logs = tdir / "logs"
        logs.mkdir(exist_ok=True)
        if name == "noop":
            out["runs"]["noop"] = run_process("noop", HERE / "noop_app.py", [], logs / "noop.log", timeout)
        elif name == "pipeline":
            ds, views, export = tdir / "p-dataset", tdir / "p-views", tdir / "p-export"
            r = run_process(
                "pipeline",
                jobs / "pipeline.py",
                [
                    "--input",
                    str(csv),
                    "--metadata",
                    str(meta),
                    "--dataset",
                    str(ds),
                    *common,
                    "--output",
                    str(views),
                    "--export",
                    str(export),
                    "--version-id",
                    VERSION,
                ],
                logs / "pipeline.log",
                timeout,
            )
            r["phases"] = pipeline_phases(r, ds, views, export)
            out["runs"]["pipeline"] = r
            out["checks"]["pipeline_views_vs_scipy"] = wmb.check_against(str(views), ref, n_genes)
            err, manifest = check_export(export, ref["mean"])
            out["checks"]["pipeline_export_mean_vs_scipy"] = err
            out["export"] = {"path": str(export), "tables": manifest["tables"], "stats": manifest["stats"]}
            if do_load:  # right after the pipeline, before the long source-design run
                save(work, tier, out)
                out["bulk_load"] = bulk_load(export, tdir)
        elif name == "two_step":
            ds, views = tdir / "b-dataset", tdir / "b-views"
            r1 = run_process(
                "two_step:ingest",
                jobs / "ingest.py",
                ["--input", str(csv), "--metadata", str(meta), "--output", str(ds)],
                logs / "ingest.log",
                timeout,
            )
            r2 = run_process(
                "two_step:aggregate",
                jobs / "aggregate.py",
                ["--dataset", str(ds), *common, "--output", str(views)],
                logs / "aggregate.log",
                timeout,
            )
            r2["phases"] = json.loads((views / "manifest.json").read_text()).get("timings_s")
            out["runs"]["two_step"] = {
                "wall_s": r1["wall_s"] + r2["wall_s"],
                "cpu_s": r1["cpu_s"] + r2["cpu_s"],
                "ingest": r1,
                "aggregate": r2,
            }
            out["checks"]["two_step_views_vs_scipy"] = wmb.check_against(str(views), ref, n_genes)
            shutil.rmtree(ds)
        elif name == "source":
            npz = tdir / "source-means.npz"
            out["runs"]["source"] = run_process(
                "source",
                HERE / "source_design_app.py",
                ["--input", str(csv), "--metadata", str(meta), *common, "--output", str(npz)],
                logs / "source.log",
                timeout,
            )
            out["checks"]["source_mean_vs_scipy"] = check_source(npz, ref["mean"])
        save(work, tier, out)
    print(f"  checks (max relative difference): {out['checks']}", flush=True)
    bad = {k: v for k, v in out["checks"].items() if not v <= 1e-6}
    if bad:
        raise RuntimeError(f"{tier}: outputs disagree with the reference: {bad}")
    for p in tdir.iterdir():  # keep the logs and the results; the data is large
        if p.name not in ("logs",):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return out


_ALL: dict[str, Any] = {}
_COMMAND = ["", ""]


def save(work: Path, tier: str, out: dict[str, Any]) -> None:
    """Raw figures so far to ``results.json``, and the report so far to ``section.md``."""
    _ALL[tier] = out
    (work / "results.json").write_text(json.dumps(_ALL, indent=1, default=str))
    try:
        (work / "section.md").write_text(report(_ALL, _COMMAND[0], _COMMAND[1]))
    except Exception as exc:  # a partial tier may lack what a line needs
        print(f"  (partial report not written: {exc!r})", flush=True)


# ------------------------------------------------------------------------------------------------
# report


def ratio(a: dict[str, Any], b: dict[str, Any], x: str, y: str) -> float:
    if x in a and y in b:
        return a[x]["wall_s"] / b[y]["wall_s"]
    return float("nan")


def fmt_run(r: dict[str, Any] | None) -> str:
    return "not run" if r is None else f"{r['wall_s']:.1f} s"


def report(results: dict[str, Any], command: str, load_start: str) -> str:
    import pyspark

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    conf = ", ".join(f"`{k}={v}`" for k, v in SUBMIT_CONF.items())
    lines = [
        SECTION,
        "",
        f"- Date: {now}; machine: {wmb.machine()}; Spark {pyspark.__version__} (the `.venv` pyspark's "
        "`spark-submit`), Java 17",
        f"- Command: `{command}`; load average (1, 5, 15 min) before the run: {load_start}, after: "
        f"{loadavg()}; the load average before and after each process is listed below.",
        f"- Every contender is its own cold `spark-submit` process over the same wide CSV and metadata CSV "
        f"(generated 10x-like counts, {N_GROUPS} groups), one after another in one run, all with {conf}. "
        "Wall time is fork to exit of the whole process (JVM start, SparkContext, work, stop); the "
        "CSV is in the OS page cache for all of them (written just before, then `sync` and a 10 s "
        "pause, so that its write-back does not run during the first contender).",
        "- source: the source design as one application (`benchmarks/source_design_app.py`: wide "
        "DataFrame, one GROUPED_AGG pandas UDF per gene, 500 columns per job, **mean only**, means "
        "collected). two-step: `jobs/widematrix/ingest.py` then `jobs/widematrix/aggregate.py` "
        "(all default statistics: mean, fraction, variance, std, exact median; its HBase-ready "
        "export on, the default). pipeline: `jobs/widematrix/pipeline.py` (ingest, the same "
        "aggregate with the export off, then the serving TSV export for HBase: genes and top "
        "tables, rendered by the driver at these sizes), one application. no-op: "
        "`benchmarks/noop_app.py` (start a SparkSession, stop it).",
        "- Checked before reporting: both of our contenders' views (all five statistics), the "
        "pipeline export's mean column, and the source design's means against a scipy reference "
        "(max relative difference in the table).",
        "",
        "| shape (cells x genes) | nnz | CSV | source (1 process) | two-step (ingest + aggregate) | "
        "pipeline (1 process) | no-op spark-submit | source / pipeline | two-step / pipeline | "
        "target source / pipeline | max rel. diff vs scipy (source mean; pipeline views, export "
        "mean; two-step views) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tier, r in results.items():
        runs, c = r["runs"], r["checks"]
        two = runs.get("two_step")
        two_s = (
            "not run"
            if two is None
            else f"{two['wall_s']:.1f} s ({two['ingest']['wall_s']:.1f} + {two['aggregate']['wall_s']:.1f})"
        )
        target = TARGETS.get(tier)
        rs = ratio(runs, runs, "source", "pipeline")
        verdict = "" if target is None or rs != rs else (" (met)" if rs >= target else " (**missed**)")
        checks = "; ".join(
            f"{c[k]:.1e}" if k in c else "-"
            for k in (
                "source_mean_vs_scipy",
                "pipeline_views_vs_scipy",
                "pipeline_export_mean_vs_scipy",
                "two_step_views_vs_scipy",
            )
        )
        lines.append(
            f"| {r['shape'][0]:,} x {r['shape'][1]:,} | {r['nnz']:,} | {r['csv_bytes'] / 2**30:.2f} GiB | "
            f"{fmt_run(runs.get('source'))} | {two_s} | {fmt_run(runs.get('pipeline'))} | "
            f"{fmt_run(runs.get('noop'))} | {rs:.1f}x | {ratio(runs, runs, 'two_step', 'pipeline'):.2f}x | "
            f"{'-' if target is None else f'>= {target:.0f}x'}{verdict} | {checks} |"
        )
    lines += ["", "Per process (wall, CPU seconds of the process tree, load average before -> after):", ""]
    for r in results.values():
        for run in r["runs"].values():
            parts = [run] if "rc" in run else [run["ingest"], run["aggregate"]]
            for p in parts:
                lines.append(
                    f"- {r['shape'][0]:,} x {r['shape'][1]:,}, {p['name']}: {p['wall_s']:.1f} s wall, "
                    f"{p['cpu_s']:.1f} s CPU, load {p['load_before']} -> {p['load_after']}"
                )
    lines += [
        "",
        "Pipeline phases (from when each output's manifest was written, and the jobs' own "
        "phase timings in those manifests), seconds:",
        "",
    ]
    for r in results.values():
        p = r["runs"].get("pipeline", {}).get("phases")
        if p:
            lines.append(
                f"- {r['shape'][0]:,} x {r['shape'][1]:,}: start-up + ingest {p['start_and_ingest_s']:.1f}, "
                f"aggregate {p['aggregate_s']:.1f}, export {p['export_s']:.1f}, stop {p['stop_s']:.1f}; "
                f"ingest {p['ingest_phases']}; aggregate {p['aggregate_phases']}"
            )
    for r in results.values():
        bl = r.get("bulk_load")
        if not bl:
            continue
        p = r["runs"]["pipeline"]["phases"]
        two = r["runs"].get("two_step")
        agg_proc = f"; the two-step aggregate process: {two['aggregate']['wall_s']:.1f} s" if two else ""
        lines += [
            "",
            f"Bulk load of all views at {r['shape'][0]:,} x {r['shape'][1]:,} (the pipeline's export, "
            f"statistics {', '.join(r['export']['stats'])}) into a local HBase 2.6 (standalone + Thrift, "
            "`file://` root) with `serving.bulk_load_commands` (ImportTsv bulk output, then "
            "BulkLoadHFilesTool; the two views in parallel, each tool its own JVM):",
            "",
            f"- bulk load, both views: **{bl['load_s']:.1f} s** (load {bl['load_before']} -> "
            f"{bl['load_after']}); per view: "
            + "; ".join(
                f"{v}: importtsv {t['importtsv']:.1f} s + completebulkload {t['completebulkload']:.1f} s "
                f"({bl['tsv_bytes'][v] / 2**20:.0f} MiB TSV)"
                for v, t in bl["per_view_s"].items()
            ),
            f"- beside the aggregate's own time: the pipeline's aggregate phase {p['aggregate_s']:.1f} s "
            f"and its export phase {p['export_s']:.1f} s{agg_proc}",
            f"- rows and cells scanned back through Thrift ({bl['scan_s']:.1f} s): {bl['counted']}; the "
            f"export manifest: {bl['manifest']} ({'equal' if bl['counts_match'] else 'DIFFERENT'})",
            f"- not in the load time: starting HBase ({bl['hbase_start_s']:.1f} s)",
        ]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    path = HERE / "RESULTS.md"
    old = path.read_text() if path.exists() else ""
    start = old.find(SECTION)
    if start >= 0:
        nxt = old.find("\n## ", start + len(SECTION))
        old = old[:start].rstrip("\n") + ("\n\n" + old[nxt + 1 :] if nxt >= 0 else "")
    path.write_text(old.rstrip("\n") + "\n\n" + text)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the 4,000 x 1,000 shape only (development)")
    p.add_argument("--tiers", default="5k,50k", help="comma list of: 5k, 50k")
    p.add_argument(
        "--skip", default="", help="comma list of contenders to skip, all tiers (source) or one (source@50k)"
    )
    p.add_argument("--no-bulk-load", action="store_true", help="skip the bulk load (largest tier run)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per process (default: none)")
    p.add_argument("--write", action="store_true", help="put the section into benchmarks/RESULTS.md")
    p.add_argument("--workdir", default=None, help="keep logs and results.json here")
    args = p.parse_args(argv)
    tiers = ["quick"] if args.quick else [t for t in args.tiers.split(",") if t]
    for t in tiers:
        if t not in TIERS:
            p.error(f"--tiers: unknown tier {t!r}; choose from 5k, 50k")
    skip = {s for s in args.skip.split(",") if s}
    command = " ".join(["python", "benchmarks/widematrix_process.py", *argv])
    load_start = loadavg()
    _COMMAND[:] = [command, load_start]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="widematrix-process-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work dir {work}; load {load_start}", flush=True)
    results = {}
    for t in tiers:
        results[t] = run_tier(t, work, skip, args.timeout, not args.no_bulk_load and t == tiers[-1])
    text = report(results, command, load_start)
    print(text)
    (work / "section.md").write_text(text)
    if args.write and not args.quick:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
