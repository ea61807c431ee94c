"""The source design as a standalone Spark application (one ``spark-submit`` per upload).

Usage: ``spark-submit benchmarks/source_design_app.py --input m.csv --metadata meta.csv
--group-by cluster --output means.npz``

What the blog write-up built, as ``benchmarks/widematrix.py``'s ``source_approach`` runs it in
session: the wide CSV read as a DataFrame with one double column per gene (the schema from the
header line), joined to the metadata on the cell id, then one GROUPED_AGG pandas UDF per gene
column, 500 columns per job, **mean only**. The means are collected to the driver (as the blog's
``collect()`` does) and saved as ``means.npz`` (``groups``, ``genes``, ``mean[group, gene]``) so
the benchmark can check them against ours; that write is a few MB and part of the timed process.
"""

import argparse
import sys

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True, help="wide CSV: cell id column, one column per gene")
    p.add_argument("--metadata", required=True, help="cell metadata CSV; first column is the cell id")
    p.add_argument("--group-by", default="cluster")
    p.add_argument("--output", required=True, help=".npz of the means")
    p.add_argument("--batch", type=int, default=500, help="gene columns per job")
    args = p.parse_args(argv)
    spark = SparkSession.builder.appName("widematrix-source-design").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    with open(args.input) as f:
        header = f.readline().rstrip("\n").split(",")
    id_col, genes = header[0], header[1:]
    schema = T.StructType(
        [T.StructField(id_col, T.StringType())] + [T.StructField(g, T.DoubleType()) for g in genes]
    )
    # univocity's default limit is 20,480 columns; a wider CSV needs the limit raised to be read at all
    matrix = spark.read.option("maxColumns", len(header) + 1).csv(args.input, header=True, schema=schema)
    meta = spark.read.csv(args.metadata, header=True)
    meta_id = meta.columns[0]
    joined = matrix.join(meta.withColumnRenamed(meta_id, id_col), id_col)

    @F.pandas_udf("double", F.PandasUDFType.GROUPED_AGG)
    def mean_udf(v: pd.Series) -> float:
        return float(v.mean())

    gcol = args.group_by
    parts: dict[str, dict[str, float]] = {}
    for a in range(0, len(genes), args.batch):
        chunk = genes[a : a + args.batch]
        aggs = [mean_udf(F.col(f"`{c}`")).alias(c) for c in chunk]
        for row in joined.select(gcol, *chunk).groupBy(gcol).agg(*aggs).collect():
            parts.setdefault(row[gcol], {}).update(row.asDict())
    groups = sorted(parts)
    mean = np.array([[parts[g][c] for c in genes] for g in groups], dtype=np.float64)
    np.savez(args.output, groups=np.array(groups), genes=np.array(genes), mean=mean)
    print(f"source design: {len(groups)} groups x {len(genes)} genes (mean)")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
