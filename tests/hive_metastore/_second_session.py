"""Driver for the second, separate Spark session (its own spark-submit, so its own JVM and
catalog): read the table back through the metastore, re-run the job (idempotence), then the bad
input cases. One JSON line on stdout, after the marker ``RESULT:``.

argv: <job args as JSON> <bad cases as JSON: {name: [args...]}>
"""

import json
import sys

from pyspark.sql import SparkSession

from emr_patterns.jobs.hive import csv_to_parquet


def main() -> int:
    job_args = json.loads(sys.argv[1])
    bad_cases = json.loads(sys.argv[2])
    table = f"{job_args[job_args.index('--database') + 1]}.{job_args[job_args.index('--table') + 1]}"
    spark = SparkSession.builder.appName("hive-second-session").enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    out = {
        "databases": sorted(r[0] for r in spark.sql("SHOW DATABASES").collect()),
        "rows": [
            [str(r["date"]), r["state"], r["fips"], r["cases"], r["deaths"]]
            for r in spark.table(table).collect()
        ],
        "types": {f.name: f.dataType.simpleString() for f in spark.table(table).schema.fields},
        "partitions": sorted(r[0] for r in spark.sql(f"SHOW PARTITIONS {table}").collect()),
        "type": [r[1] for r in spark.sql(f"DESCRIBE FORMATTED {table}").collect() if r[0] == "Type"],
    }
    out["rerun"] = csv_to_parquet.main(job_args)
    out["rows_after_rerun"] = spark.table(table).count()
    out["tables_after_rerun"] = sorted(
        r[1] for r in spark.sql(f"SHOW TABLES IN {job_args[job_args.index('--database') + 1]}").collect()
    )
    out["bad"] = {}
    for name, args in bad_cases.items():
        spark.sparkContext._jvm.java.lang.System.err.println(f"CASE {name}")
        out["bad"][name] = csv_to_parquet.main(args)
    print("RESULT:" + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
