"""Wide-matrix compute: ingest single-cell matrices into a sparse canonical dataset and aggregate them.

Modules:

* ``ingest``    -- spark-submit entry point: wide CSV / ZIP / 10x HDF5 / h5ad / Matrix Market -> dataset
  (command line and orchestration only).
* ``ingest_csv``, ``ingest_zip``, ``ingest_hdf5``, ``ingest_mtx`` -- one module per input format,
  each writing the matrix files and returning a ``dataset.MatrixResult``.
* ``metadata``  -- the cells and genes dictionaries: metadata CSV join, id checks, gene names.
* ``dataset``   -- the request/result the format modules share, dictionary tables, the manifest.
* ``aggregate`` -- spark-submit entry point: dataset -> per-(group, gene) statistic views + HBase export.
* ``csvtasks``  -- the ingest's Spark tasks for wide CSVs: byte-range splits read, parsed, written.
* ``blocks``    -- the aggregate's Spark task: one gene block read, computed and written.
* ``pipeline``  -- spark-submit entry point: ingest, aggregate and the HBase serving export, one application.
* ``serving``   -- the serving layout in HBase (tables, row keys, value text) and the bulk-load commands.
* ``servingtasks`` -- the serving export's Spark tasks: a gene block's genes lines and top-k candidates.
* ``csvparse``  -- vectorised, validating parser for wide CSV lines (numpy only).
* ``stats``     -- exact zero-aware statistics for one gene block (numpy only).
* ``readers``   -- HDF5 (10x, AnnData) and Matrix Market readers (h5py imported lazily).
* ``fsio``      -- driver bookkeeping through Hadoop's FileSystem (EMRFS on EMR) and the tasks' own
  file access through ``pyarrow.fs`` (local, s3://, hdfs://).
* ``commit``    -- the commit protocol: new outputs, ``--overwrite`` as write-then-switch, readers' leases.
* ``outputs``   -- ``--kms-key-arn`` / ``--allowed-buckets``: s3:// outputs checked before any write.
* ``worker``    -- once-per-process set-up of Python workers; shipping the package for spark-submit.

Task modules (``csvtasks``, ``blocks``, ``servingtasks``, ``csvparse``, ``stats``, ``fsio``,
``worker``) import numpy and pyarrow only, so a fresh Python worker starts a task without importing pandas.

Job code keeps to Python 3.9 syntax and imports only pyspark, numpy, pandas and pyarrow
(plus h5py, lazily, for HDF5 inputs, and boto3, lazily, for the ``--kms-key-arn`` check).
"""
