"""The serving layout of one dataset version in HBase, and the bulk-load commands that load it.

Pure Python (3.9, no pyspark): the export job (``pipeline``), the bulk-load steps the
``WideMatrixPipeline`` construct renders, the read handler's decoding and the tests all use it.

Tables (one set per dataset version, so a new version never touches the one being read)::

    wm_<dataset>_<version>_genes   row key  gene name (UTF-8)
                                   s:_v     the version id (every row stamped: a reader can check
                                            that a row belongs to the version the registry names)
                                   s:<stat> the statistic over every group, as decimal text joined
                                            by ',' in the order of the manifest's groups (a group
                                            whose value is not stored is 0)
    wm_<dataset>_<version>_top     row key  <stat>|<group index, 5 digits>|<rank, 7 digits>
                                   s:_v, s:g (gene), s:v (value, decimal text)
                                   the top ``TOP_MAX`` genes of each (statistic, group), ranked
                                   by value descending, then gene name; a top-N read is one
                                   prefix scan with a limit.

Why this shape: ``hbase importtsv`` maps each TSV column to one fixed ``family:qualifier``, so
the column list must be small and known before the load (per-gene qualifiers would put tens of
thousands of names on a step's command line, over EMR's argument limit). A genes x groups slice
for one statistic is then one multi-get of a single column, and values are the shortest text
that reads back as the same double (``repr``/``Double.toString`` round trip exactly; ImportTsv
writes the bytes as they are).

Gene names and group names may hold any character except tab, newline, carriage return and NUL
(the TSV cannot carry them; the export refuses them).
"""

import re
from typing import Dict, List, Sequence

FAMILY = "s"
VERSION_QUALIFIER = "_v"
GENE_QUALIFIER = "g"
VALUE_QUALIFIER = "v"
VIEWS = ("genes", "top")
#: Every statistic the aggregate computes, and its default set (``stats`` re-exports them).
STATS = ("mean", "fraction", "variance", "std", "median", "q25", "q75", "trimmed_mean", "count")
DEFAULT_STATS = ("mean", "fraction", "variance", "std", "median")
TOP_MAX = 1000
GROUP_DIGITS = 5
RANK_DIGITS = 7
MAX_GROUPS = 10**GROUP_DIGITS
KEY_SEP = "|"
VALUE_SEP = ","
TABLE_PREFIX = "wm"
#: Dataset ids: lower-case letters, digits and hyphens (no '_', which separates the table name's parts).
DATASET_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
#: Version ids: 'v' and 1-40 lower-case letters or digits (a time stamp plus a nonce, say).
VERSION_ID = re.compile(r"^v[a-z0-9]{1,40}$")
#: Characters a TSV field (row key or value) cannot hold.
TSV_FORBIDDEN = re.compile(r"[\t\n\r\x00]")


def check_dataset_id(dataset: str) -> str:
    if not isinstance(dataset, str) or not DATASET_ID.match(dataset):
        raise ValueError(
            f"dataset id {dataset!r}: use 1-40 lower-case letters, digits and inner hyphens, "
            "e.g. 'brain-2024'"
        )
    return dataset


def check_version_id(version: str) -> str:
    if not isinstance(version, str) or not VERSION_ID.match(version):
        raise ValueError(
            f"version id {version!r}: use 'v' and 1-40 lower-case letters or digits, e.g. 'v20240501a'"
        )
    return version


def table_name(dataset: str, version: str, view: str) -> str:
    """``wm_<dataset>_<version>_<view>`` (HBase table names allow ``[A-Za-z0-9_.-]``)."""
    if view not in VIEWS:
        raise ValueError(f"view {view!r}: one of {', '.join(VIEWS)}")
    return f"{TABLE_PREFIX}_{check_dataset_id(dataset)}_{check_version_id(version)}_{view}"


def table_names(dataset: str, version: str) -> Dict[str, str]:
    """Every table of one version, by view."""
    return {view: table_name(dataset, version, view) for view in VIEWS}


def tsv_columns(view: str, stats: Sequence[str]) -> List[str]:
    """The ImportTsv column list of a view's TSV (first column the row key)."""
    if view == "genes":
        return ["HBASE_ROW_KEY", f"{FAMILY}:{VERSION_QUALIFIER}"] + [f"{FAMILY}:{s}" for s in stats]
    if view == "top":
        return [
            "HBASE_ROW_KEY",
            f"{FAMILY}:{VERSION_QUALIFIER}",
            f"{FAMILY}:{GENE_QUALIFIER}",
            f"{FAMILY}:{VALUE_QUALIFIER}",
        ]
    raise ValueError(f"view {view!r}: one of {', '.join(VIEWS)}")


def top_prefix(stat: str, group_index: int) -> str:
    return f"{stat}{KEY_SEP}{group_index:0{GROUP_DIGITS}d}{KEY_SEP}"


def top_key(stat: str, group_index: int, rank: int) -> str:
    return f"{top_prefix(stat, group_index)}{rank:0{RANK_DIGITS}d}"


def format_value(value: float) -> str:
    """The text a value is stored as: reads back as the same double (``float(text)``)."""
    return repr(float(value))


def decode_vector(text: bytes, n_groups: int) -> List[float]:
    """A genes-table cell back to one value per group; refuses a cell of the wrong length."""
    parts = text.decode("ascii").split(VALUE_SEP)
    if len(parts) != n_groups:
        raise ValueError(f"cell holds {len(parts)} values, the version's manifest has {n_groups} groups")
    return [float(p) for p in parts]


def bulk_load_commands(
    view: str, stats: Sequence[str], table: str, tsv_dir: str, hfile_dir: str
) -> List[List[str]]:
    """The two commands that load one view's TSV into its (existing, empty) table.

    ``hbase importtsv -Dimporttsv.bulk.output=<hfile_dir>`` writes HFiles split at the table's
    region boundaries (a MapReduce job); ``hbase completebulkload <hfile_dir> <table>``
    (``BulkLoadHFilesTool``) hands them to the RegionServers through the bulk-load RPC, which
    HBase on S3's store-file tracking records. Files are never copied into a table directory.
    The TSV is tab-separated (ImportTsv's default separator) and every line must parse
    (``importtsv.skip.bad.lines=false``: a bad line fails the load instead of vanishing).
    These are the argv of EMR ``command-runner.jar`` steps, run as they are by the tests.
    """
    columns = ",".join(tsv_columns(view, stats))
    return [
        [
            "hbase",
            "importtsv",
            f"-Dimporttsv.columns={columns}",
            f"-Dimporttsv.bulk.output={hfile_dir}",
            "-Dimporttsv.skip.bad.lines=false",
            table,
            tsv_dir,
        ],
        ["hbase", "completebulkload", hfile_dir, table],
    ]


#: ``hbase <command>`` -> the class ``bin/hbase`` runs for it.
HBASE_COMMAND_CLASSES = {
    "importtsv": "org.apache.hadoop.hbase.mapreduce.ImportTsv",
    "completebulkload": "org.apache.hadoop.hbase.tool.BulkLoadHFilesTool",
}
