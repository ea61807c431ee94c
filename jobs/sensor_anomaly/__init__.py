"""Sensor anomaly detection with k-means: the two sample programs of the transient-cluster pipeline.

Modules:

* ``preprocess`` -- spark-submit program 1: check and clean sensor readings (CSV), write them as
  Parquet; with ``--mode TRAINING`` choose k by the elbow rule on k-means' WSSSE.
* ``model``      -- spark-submit program 2: ``--mode TRAINING`` fits and saves the k-means pipeline
  and the anomaly distance threshold; ``--mode SCORING`` applies them; both write the anomalies
  and ``metrics.json``.
* ``sample_data`` -- synthetic readings with known anomalies (standard library only).

``preprocess`` and ``model`` are self-contained (standard library and pyspark only): spark-submit
runs each as a lone file, without ``--py-files``. Python 3.9 syntax throughout (EMR 7).
See docs/sample-programs.md.
"""
