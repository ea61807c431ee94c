"""Hive platform jobs: the bundled Spark step that turns CSV on S3 into Parquet under an external
Hive table (``csv_to_parquet``) and its sample data (``sample/covid_cases.csv``)."""
