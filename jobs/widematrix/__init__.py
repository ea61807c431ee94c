"""Wide-matrix compute: ingest single-cell matrices into a sparse canonical dataset and aggregate them.

Modules:

* ``ingest``    -- spark-submit entry point: wide CSV / ZIP / 10x HDF5 / h5ad / Matrix Market -> dataset.
* ``aggregate`` -- spark-submit entry point: dataset -> per-(group, gene) statistic views + HBase export.
* ``csvparse``  -- vectorised, validating parser for wide CSV lines (numpy only).
* ``stats``     -- exact zero-aware statistics for one gene block (numpy only).
* ``readers``   -- HDF5 (10x, AnnData) and Matrix Market readers (h5py imported lazily).
* ``fsio``      -- Hadoop FileSystem helpers (s3:// on EMR, local paths in tests) and atomic commit.

Job code keeps to Python 3.9 syntax and imports only pyspark, numpy, pandas and pyarrow
(plus h5py, lazily, for HDF5 inputs).
"""
