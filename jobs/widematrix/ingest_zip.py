"""ZIP input (the source design's archive): one wide matrix CSV and optionally one metadata CSV.

The members are streamed through the JVM into the staging directory; the matrix is then an
ordinary wide CSV for ``ingest_csv``.
"""

from typing import Optional

from . import fsio
from .dataset import IngestRequest
from .errors import InputError


def zip_role(member: str) -> Optional[str]:
    """'matrix', 'metadata' or None for a ZIP member name (only CSV members count)."""
    base = member.rsplit("/", 1)[-1].lower()
    if base.startswith(".") or member.startswith("__MACOSX/"):
        return None
    if not base.endswith((".csv", ".csv.gz")):
        return None
    if "matrix" in base:
        return "matrix"
    if any(word in base for word in ("metadata", "cells", "obs")):
        return "metadata"
    return "other"


def unpack(req: IngestRequest) -> str:
    """Extract the matrix (and metadata) members; returns the matrix CSV's URI.

    A metadata member becomes the run's metadata unless ``--metadata`` was given (then it is
    ignored, with a note in the manifest).
    """
    input_uri = req.input_uri
    req.source["sha256"] = req.fs.sha256(input_uri)
    extracted = req.fs.unzip_members(
        input_uri, fsio.join(req.staging, "zip"), lambda n: zip_role(n) in ("matrix", "metadata")
    )
    matrices = [(n, u) for n, u in extracted if zip_role(n) == "matrix"]
    metas = [(n, u) for n, u in extracted if zip_role(n) == "metadata"]
    if len(matrices) != 1:
        raise InputError(
            f"{input_uri}: a ZIP input must hold exactly one matrix CSV "
            "(a .csv member whose name contains "
            f"'matrix'); found {len(matrices)}: {[n for n, _ in matrices]}"
        )
    if len(metas) > 1:
        raise InputError(f"{input_uri}: more than one metadata CSV in the ZIP: {[n for n, _ in metas]}")
    req.source["members"] = {"matrix": matrices[0][0], "metadata": metas[0][0] if metas else None}
    if metas and not req.metadata_uri:
        req.metadata_uri = metas[0][1]
    elif metas:
        req.notes.append(f"--metadata given: ignored {metas[0][0]} inside the ZIP")
    return matrices[0][1]
