"""Hive metastore 3.1.3 on MariaDB, and the bundled Spark step against it."""
