"""A Spark application that does nothing: its whole-process time is the start-up (and stop) cost
every ``spark-submit`` pays before any work (JVM, SparkContext, Python gateway)."""

import sys

from pyspark.sql import SparkSession

if __name__ == "__main__":
    spark = SparkSession.builder.appName("widematrix-noop").getOrCreate()
    spark.stop()
    sys.exit(0)
