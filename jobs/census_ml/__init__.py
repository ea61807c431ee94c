"""Census-income ML on EMR: train a classifier on the Parquet a DataBrew recipe job prepared.

Modules:

* ``train`` -- spark-submit entry point: prepared Parquet -> random forest model + ``metrics.json``
  (validation and test AUC). Self-contained: a plain ``spark-submit train.py`` runs it.

Job code keeps to Python 3.9 syntax and imports only the standard library and pyspark.
"""
