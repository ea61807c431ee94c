"""Read latency of the wide-matrix read handler against a real local HBase (standalone + Thrift),
beside a bare happybase call of the same query.

Loads one version (20,000 genes x 20 groups, statistics mean and fraction) with the bulk-load
commands the EMR steps run, registers and switches it (moto's DynamoDB, in process), then times
N requests of each kind through ``handler.handler`` (routing, input checks, pointer cache, Thrift,
decoding, JSON) and N bare happybase calls of the same query on a warm connection:

* a 50-gene x all-groups slice of one statistic (one multi-get);
* the top 100 genes of a group (one prefix scan).

Prints a Markdown table (p50, p99, handler overhead over bare) and, with ``--write``, appends it
to benchmarks/RESULTS.md. Targets (issue 10): p99 <= 50 ms locally, overhead <= 20%.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--genes", type=int, default=20_000)
    p.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = p.parse_args(argv)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "REGISTRY_TABLE": "registry",
        }
    )
    import boto3
    from moto import mock_aws

    from emr_patterns.jobs.widematrix import serving
    from emr_patterns.lambdas.matrix_read import handler as h
    from emr_patterns.lambdas.matrix_read import registry as reg
    from tests.widematrix._data import write_export
    from tests.widematrix._hbase import bulk_load, start_hbase
    from tests.widematrix.conftest import create_registry_table

    rng = np.random.default_rng(1)
    genes = [f"GENE{k:05d}" for k in range(args.genes)]
    groups = [f"cluster-{k}" for k in range(20)]
    values = {s: np.round(rng.gamma(1.0, 1.0, (len(genes), len(groups))), 4) for s in ("mean", "fraction")}
    with tempfile.TemporaryDirectory(prefix="matrix-read-bench-") as tmp, mock_aws():
        base = Path(tmp)
        hbase = start_hbase(base / "hbase")
        try:
            manifest = write_export(base / "export", "v1", genes, groups, values)
            started = time.monotonic()
            tables = bulk_load(hbase, str(base / "export"), "bench", "v1", base)
            load_s = time.monotonic() - started
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_registry_table(client)
            registry = reg.Registry("registry", client)
            registry.register_version("bench", "v1", reg.version_manifest(manifest, tables))
            registry.set_status("bench", "v1", reg.READY, expected=reg.LOADING)
            registry.switch("bench", "v1", 0)
            h._REGISTRY = registry
            os.environ.update({"HBASE_THRIFT_HOST": hbase.host, "HBASE_THRIFT_PORT": str(hbase.thrift_port)})
            conn = hbase.connection()
            gene_table, top_table = conn.table(tables["genes"]), conn.table(tables["top"])

            def interleaved(via, bare, n: int) -> tuple[list[float], list[float]]:
                """Alternate the two, so both see the same server state (caches, GC, other load)."""
                for _ in range(20):  # warm-up
                    via()
                    bare()
                times: tuple[list[float], list[float]] = ([], [])
                for _ in range(n):
                    for fn, out in ((via, times[0]), (bare, times[1])):
                        t0 = time.perf_counter()
                        fn()
                        out.append(time.perf_counter() - t0)
                return times

            def pick() -> list[str]:
                return [genes[i] for i in rng.choice(len(genes), 50, replace=False)]

            def via_handler_slice() -> None:
                event = {
                    "httpMethod": "GET",
                    "path": "/datasets/bench/slice",
                    "multiValueQueryStringParameters": {"stat": ["mean"], "gene": pick()},
                }
                assert h.handler(event)["statusCode"] == 200

            def bare_slice() -> None:
                keys = [g.encode() for g in pick()]
                rows = gene_table.rows(keys, columns=[b"s:_v", b"s:mean"])
                assert len(rows) == 50

            def via_handler_top() -> None:
                event = {
                    "httpMethod": "GET",
                    "path": "/datasets/bench/top",
                    "multiValueQueryStringParameters": {
                        "stat": ["fraction"],
                        "group": [groups[3]],
                        "n": ["100"],
                    },
                }
                assert h.handler(event)["statusCode"] == 200

            prefix = serving.top_prefix("fraction", 3).encode()

            def bare_top() -> None:
                assert len(list(top_table.scan(row_prefix=prefix, limit=100, batch_size=100))) == 100

            for _ in gene_table.scan(batch_size=1000):  # every block in the block cache, for both
                pass
            for _ in top_table.scan(batch_size=1000):
                pass
            results = {
                "slice 50 genes x 20 groups": interleaved(via_handler_slice, bare_slice, args.requests),
                "top 100 of a group": interleaved(via_handler_top, bare_top, args.requests),
            }
            conn.close()
        finally:
            h._drop_connection()
            hbase.stop()
    lines = [
        "## Read API latency (local HBase 2.6 standalone + Thrift, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"- {args.genes:,} genes x 20 groups, statistics mean and fraction; bulk load of both tables "
        f"(ImportTsv bulk output + BulkLoadHFilesTool, in parallel): {load_s:.1f} s",
        f"- {args.requests} requests each, one client, warm connections, tables scanned once first, "
        "handler and bare calls alternated, after 20 warm-up pairs "
        "(command: `.venv/bin/python benchmarks/matrix_read.py`)",
        "",
        "| query | handler p50 | handler p99 | bare happybase p50 | bare p99 | overhead (p50) |",
        "|---|---|---|---|---|---|",
    ]
    for name, (via, bare) in results.items():
        overhead = statistics.median(via) / statistics.median(bare) - 1
        lines.append(
            f"| {name} | {pct(via, 50):.2f} ms | {pct(via, 99):.2f} ms | {pct(bare, 50):.2f} ms | "
            f"{pct(bare, 99):.2f} ms | {overhead * 100:.0f}% |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with (REPO / "benchmarks" / "RESULTS.md").open("a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
