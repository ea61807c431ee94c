"""The write-then-switch commit protocol both jobs use, and the leases readers hold on a dataset.

An output directory (a dataset, or an aggregate's views) is finished when its ``manifest.json``
exists; the manifest names where this version's files are (``data_dir``, relative to the root;
absent or ``""`` means the root itself). Readers open the manifest first and follow ``data_dir``.

* **A new output** is written under a hidden sibling ``_<name>.tmp-<id>``, renamed into place and
  the manifest written last. Any failure deletes the temporary directory.
* **``--overwrite``** writes the new version inside the existing root, as ``_v-<id>/``, while the
  old version stays where it is and readable. The switch is one write of ``manifest.json``: a
  single PUT on S3 (which replaces an object atomically), a write under a temporary name and an
  atomic replacing rename elsewhere (``HadoopFS.replace``). Only after the switch are the old
  version's files deleted. A failure before the switch deletes ``_v-<id>/`` and leaves the old
  version untouched; no step ever leaves the root without a complete version. No directory is
  renamed, so nothing depends on a rename that S3 can only emulate by copying.
* ``--overwrite`` replaces only an output of the same kind written by these jobs: a target
  without a manifest, or with another kind's, is refused, naming the path.
* A reader (the aggregate job) holds a **lease** while it reads a dataset: a small JSON file
  ``_readers/<run id>.json`` with its start time, written before it reads the manifest and
  removed when it is done. ``--overwrite`` refuses a dataset with a live lease, naming the reader.
  A lease older than ``LEASE_STALE_S`` (24 hours; a reader that died without removing it) is
  ignored. A reader that takes its lease while an overwrite is already writing reads either the
  old manifest, whose files the overwrite then keeps (it checks the leases again after the
  switch, and leaves the old version for the next overwrite to remove), or the new one.
"""

import contextlib
import datetime
import json
import logging
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional

from . import fsio
from .errors import InputError

LOG = logging.getLogger("widematrix.commit")
MANIFEST = fsio.MANIFEST
READERS = "_readers"
VERSION_PREFIX = "_v-"
LEASE_STALE_S = 24 * 3600


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (Python 3.9)


def data_root(uri: str, manifest: Dict[str, Any]) -> str:
    """Where the files of the version a manifest describes are (the root for a first write)."""
    sub = str(manifest.get("data_dir") or "")
    if not sub:
        return uri.rstrip("/")
    if not sub.startswith(VERSION_PREFIX) or "/" in sub or ".." in sub:
        raise InputError(
            f"{uri}: {MANIFEST} names data_dir {sub!r}, which is not a version folder of this dataset "
            f"({VERSION_PREFIX}<id>); the manifest was not written by these jobs. Fix: re-run the ingest"
        )
    return fsio.join(uri, sub)


class Staged:
    """An output being written: ``path`` is where its files go until ``commit`` makes them visible."""

    def __init__(self, final: str, path: str, version: Optional[str], kind: str) -> None:
        self.final = final
        self.path = path
        self.version = version  # ``_v-<id>`` inside ``final`` for an overwrite, else None
        self.kind = kind


@contextlib.contextmanager
def staged_output(
    fs: fsio.HadoopFS,
    final: str,
    overwrite: bool,
    kind: str,
    settle: Optional[Callable[[], None]] = None,
) -> Iterator[Staged]:
    """Yield where to write; on error delete it (an existing output is never touched), else
    leave it for ``commit``. ``settle`` runs first on error: it stops the job's tasks that may
    still write (``jobgroup.JobGroup.cancel_and_wait``), so the delete is the last word."""
    final = final.rstrip("/")
    if fs.exists(final):
        if not overwrite:
            raise InputError(f"output {final} already exists; pass --overwrite to replace it")
        check_replaceable(fs, final, kind)
        version = f"{VERSION_PREFIX}{uuid.uuid4().hex[:12]}"
        staged = Staged(final, fsio.join(final, version), version, kind)
    else:
        parent, _, name = final.rpartition("/")
        staged = Staged(final, f"{parent}/_{name}.tmp-{uuid.uuid4().hex[:12]}", None, kind)
    fs.mkdirs(staged.path)
    try:
        yield staged
    except BaseException:
        if settle is not None:
            settle()
        fs.delete(staged.path)
        raise


def check_replaceable(fs: fsio.HadoopFS, final: str, kind: str) -> None:
    """``--overwrite`` replaces only a finished output of ``kind`` that nobody is reading."""
    path = fsio.join(final, MANIFEST)
    what = f"no {MANIFEST}"
    found = None
    if fs.is_dir(final) and fs.exists(path):
        try:
            found = json.loads(fs.read_bytes(path).decode("utf-8")).get("kind")
            what = f"its {MANIFEST} is of kind {found!r}"
        except (ValueError, AttributeError):
            what = f"its {MANIFEST} is not a JSON object"
    if found != kind:
        raise InputError(
            f"--overwrite: {final} is not a {kind} written by these jobs ({what}); refusing to replace "
            f"it. Fix: choose another --output, or delete {final} yourself if nothing in it is needed"
        )
    readers = live_readers(fs, final)
    if readers:
        lease = readers[0]
        raise InputError(
            f"--overwrite: {final} is being read by {lease.get('job', 'a reader')} run "
            f"{lease.get('run_id')!r} (since {lease.get('started_utc')}, lease {lease['uri']}); "
            f"refusing to replace it. Fix: wait for that run to finish; if it died, delete {lease['uri']} "
            f"(leases older than {LEASE_STALE_S // 3600} hours are ignored)"
        )


def commit(fs: fsio.HadoopFS, staged: Staged, manifest: Dict[str, Any]) -> None:
    """Make a finished output visible: the manifest is written last, in one step.

    ``manifest`` gets ``data_dir`` when the files are in a version folder (an overwrite), so the
    caller's dict and the file stay equal.
    """
    final = staged.final
    if staged.version is None:
        fs.rename(staged.path, final)
        write_manifest(fs, final, manifest)
        return
    manifest["data_dir"] = staged.version
    write_manifest(fs, final, manifest)  # the switch: readers now open the new version
    if live_readers(fs, final):  # took its lease during the write: it may hold the old manifest
        LOG.warning("%s: a reader arrived during the overwrite; the old version is kept for now", final)
        return
    keep = {MANIFEST, f".{MANIFEST}.crc", READERS, staged.version}
    for name, _, _ in fs.listdir(final):
        if name not in keep:
            fs.delete(fsio.join(final, name))


def write_manifest(fs: fsio.HadoopFS, root: str, manifest: Dict[str, Any]) -> None:
    """Write ``manifest.json`` so that readers see the old one or the new one, never a part."""
    body = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    target = fsio.join(root, MANIFEST)
    if fsio.is_object_store(root):  # one PUT: the object is replaced whole
        fs.write_bytes(target, body)
        return
    tmp = fsio.join(root, f"_{MANIFEST}.tmp-{uuid.uuid4().hex[:8]}")
    fs.write_bytes(tmp, body)
    fs.replace(tmp, target)


# ---------------------------------------------------------------------------------------------
# readers' leases


@contextlib.contextmanager
def reading(fs: fsio.HadoopFS, dataset: str, job: str, run_id: str, what: str) -> Iterator[Dict[str, Any]]:
    """Hold a lease on a finished dataset while reading it; yields the manifest to read by.

    The manifest is checked before the lease is written (nothing is created inside a directory
    that is not a dataset) and read again after it, so the version read is the one the lease
    protects.
    """
    fsio.read_manifest(fs, dataset, what)
    lease = fsio.join(dataset, READERS, f"{run_id}.json")
    body = {"run_id": run_id, "job": job, "started_utc": _now().isoformat(timespec="seconds")}
    try:
        fs.write_bytes(lease, json.dumps(body).encode("utf-8"))
    except Exception as exc:  # a Py4J error: no write access to the dataset
        raise InputError(
            f"{dataset}: cannot write the reader lease {lease} ({str(exc).splitlines()[0][:200]}); "
            f"the job needs write access to the dataset's {READERS}/ folder"
        ) from None
    try:
        yield fsio.read_manifest(fs, dataset, what)
    finally:
        fs.delete(lease)
        with contextlib.suppress(Exception):  # only if empty: another reader may hold a lease
            fs.delete_empty_dir(fsio.join(dataset, READERS))


def live_readers(fs: fsio.HadoopFS, root: str) -> List[Dict[str, Any]]:
    """The leases under ``<root>/_readers`` younger than ``LEASE_STALE_S`` (each with its ``uri``)."""
    folder = fsio.join(root, READERS)
    if not fs.exists(folder):
        return []
    live = []
    now = _now()
    for name, is_dir, _ in fs.listdir(folder):
        if is_dir or not name.endswith(".json"):
            continue
        uri = fsio.join(folder, name)
        try:
            lease = json.loads(fs.read_bytes(uri).decode("utf-8"))
            started = datetime.datetime.fromisoformat(str(lease["started_utc"]))
        except Exception:  # removed meanwhile (skip), or unreadable (count it: it may be a reader)
            if not fs.exists(uri):
                continue
            lease, started = {"run_id": name[: -len(".json")]}, now
        if (now - started).total_seconds() < LEASE_STALE_S:
            live.append({**lease, "uri": uri})
    return live
