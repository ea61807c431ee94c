"""Locate job and handler code shipped inside the wheel (``emr_patterns.jobs``/``.lambdas``)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["asset_path", "job_file", "lambda_dir"]


def asset_path(package: str, *parts: str) -> Path:
    """Return the on-disk path of ``parts`` inside ``emr_patterns.<package>``.

    Raises ``FileNotFoundError`` with a hint when the package is installed incompletely.
    """
    path = Path(str(files(f"emr_patterns.{package}").joinpath(*parts)))
    if not path.exists():
        raise FileNotFoundError(
            f"asset '{package}/{'/'.join(parts)}' not found at {path}; "
            "is cdk-emr-patterns installed completely (pip install cdk-emr-patterns)?"
        )
    return path


def lambda_dir(name: str) -> str:
    """Directory of the self-contained Lambda handler ``lambdas/<name>/``."""
    path = asset_path("lambdas", name)
    if not path.is_dir():
        raise FileNotFoundError(f"Lambda asset '{name}' at {path} is not a directory")
    return str(path)


def job_file(*parts: str) -> str:
    """Path of a PySpark job file under ``jobs/``, e.g. ``job_file("widematrix", "ingest.py")``."""
    return str(asset_path("jobs", *parts))
