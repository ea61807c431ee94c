"""Hadoop FileSystem helpers and the write-then-commit protocol shared by both jobs.

All I/O that is not a Spark read or write goes through the JVM's Hadoop ``FileSystem`` so the
same code handles ``s3://`` (EMRFS on EMR), ``hdfs://`` and local paths. Only tiny things cross
Py4J (manifests, header lines, directory listings); bulk bytes stay in the JVM or in Spark.

Commit protocol (both jobs):

1. everything is written under a hidden sibling ``_<name>.tmp-<uuid>`` of the output;
2. on success the temporary directory is renamed to the output, then ``manifest.json`` is
   written last, as a single small file (atomic on HDFS, local disks and S3 alike);
3. on any failure the temporary directory is deleted.

A directory without ``manifest.json`` is therefore never a finished output, even on S3 where a
directory rename is a copy; readers (``aggregate``) refuse it.
"""

import contextlib
import json
import os
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .errors import InputError

MANIFEST = "manifest.json"


def join(base: str, *parts: str) -> str:
    out = base.rstrip("/")
    for part in parts:
        out = out + "/" + part.strip("/")
    return out


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file:")


def local_path(uri: str) -> str:
    if uri.startswith("file://"):
        return uri[len("file://") :]
    if uri.startswith("file:"):
        return uri[len("file:") :]
    return uri


def absolute(uri: str) -> str:
    return os.path.abspath(uri) if "://" not in uri and not uri.startswith("file:") else uri


class HadoopFS:
    """Thin wrapper over ``org.apache.hadoop.fs.FileSystem`` reached through the Spark JVM."""

    def __init__(self, spark: Any) -> None:
        self.jvm = spark.sparkContext._jvm
        self.conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str) -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(uri)

    def _fs(self, uri: str) -> Any:
        return self._path(uri).getFileSystem(self.conf)

    def exists(self, uri: str) -> bool:
        return bool(self._fs(uri).exists(self._path(uri)))

    def is_dir(self, uri: str) -> bool:
        fs = self._fs(uri)
        p = self._path(uri)
        return bool(fs.exists(p) and fs.getFileStatus(p).isDirectory())

    def size(self, uri: str) -> int:
        return int(self._fs(uri).getFileStatus(self._path(uri)).getLen())

    def delete(self, uri: str) -> None:
        fs = self._fs(uri)
        p = self._path(uri)
        if fs.exists(p):
            fs.delete(p, True)

    def rename(self, src: str, dst: str) -> None:
        if not self._fs(src).rename(self._path(src), self._path(dst)):
            raise OSError(f"could not rename {src} to {dst}")

    def mkdirs(self, uri: str) -> None:
        self._fs(uri).mkdirs(self._path(uri))

    def listdir(self, uri: str) -> List[Tuple[str, bool, int]]:
        """(name, is_directory, length) for each entry of a directory."""
        out = []
        for st in self._fs(uri).listStatus(self._path(uri)):
            out.append((st.getPath().getName(), bool(st.isDirectory()), int(st.getLen())))
        return sorted(out)

    def read_bytes(self, uri: str) -> bytes:
        stream = self._fs(uri).open(self._path(uri))
        try:
            return bytes(self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write_bytes(self, uri: str, data: bytes) -> None:
        out = self._fs(uri).create(self._path(uri), True)
        try:
            out.write(bytearray(data))
        finally:
            out.close()

    def _reader(self, uri: str) -> Any:
        """A UTF-8 BufferedReader, decompressing by extension (.gz, .bz2, ...)."""
        p = self._path(uri)
        stream = self._fs(uri).open(p)
        codec = self.jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(self.conf).getCodec(p)
        if codec is not None:
            stream = codec.createInputStream(stream)
        reader = self.jvm.java.io.InputStreamReader(stream, "UTF-8")
        return self.jvm.java.io.BufferedReader(reader, 1 << 20)

    def head_lines(self, uri: str, n: int, stop_prefix_not: Optional[str] = None) -> List[str]:
        """The first ``n`` lines; with ``stop_prefix_not``, stop after the first line not starting with it."""
        reader = self._reader(uri)
        lines: List[str] = []
        try:
            while len(lines) < n:
                line = reader.readLine()
                if line is None:
                    break
                lines.append(str(line))
                if stop_prefix_not is not None and not lines[-1].startswith(stop_prefix_not):
                    break
        finally:
            reader.close()
        return lines

    def sha256(self, uri: str) -> str:
        """Streaming SHA-256 of a file, computed in the JVM (bytes never cross Py4J)."""
        stream = self._fs(uri).open(self._path(uri))
        try:
            return str(self.jvm.org.apache.commons.codec.digest.DigestUtils.sha256Hex(stream))
        finally:
            stream.close()

    def copy_to_local(self, uri: str, local: str) -> None:
        self._fs(uri).copyToLocalFile(False, self._path(uri), self._path("file://" + local), True)

    def copy_from_local(self, local: str, uri: str) -> None:
        self._fs(uri).copyFromLocalFile(True, True, self._path("file://" + local), self._path(uri))

    def unzip_members(self, uri: str, dest_dir: str, wanted: Any) -> List[Tuple[str, str]]:
        """Stream a ZIP through the JVM, copying each member with ``wanted(name)`` true to ``dest_dir``.

        Returns [(member name, destination uri)]. Memory stays constant: ``ZipInputStream``
        decompresses sequentially and Hadoop ``IOUtils.copyBytes`` moves the bytes.
        """
        jvm = self.jvm
        stream = self._fs(uri).open(self._path(uri))
        zin = jvm.java.util.zip.ZipInputStream(stream)
        copied: List[Tuple[str, str]] = []
        try:
            index = 0
            while True:
                entry = zin.getNextEntry()
                if entry is None:
                    break
                name = str(entry.getName())
                if not entry.isDirectory() and wanted(name):
                    base = name.rsplit("/", 1)[-1]
                    target = join(dest_dir, f"{index:03d}-{base}")
                    out = self._fs(target).create(self._path(target), True)
                    try:
                        jvm.org.apache.hadoop.io.IOUtils.copyBytes(zin, out, 1 << 20, False)
                    finally:
                        out.close()
                    copied.append((name, target))
                    index += 1
                zin.closeEntry()
        except Exception as exc:  # a corrupt archive surfaces as a Py4J error
            if "ZipException" in str(exc) or "EOFException" in str(exc):
                raise InputError(f"{uri}: not a readable ZIP archive ({str(exc).splitlines()[0]})") from None
            raise
        finally:
            zin.close()
        return copied


def read_manifest(fs: HadoopFS, uri: str, what: str) -> Dict[str, Any]:
    path = join(uri, MANIFEST)
    if not fs.exists(path):
        raise InputError(
            f"{uri}: no {MANIFEST}; this is not a finished {what} (a job may have failed while writing it)"
        )
    return json.loads(fs.read_bytes(path).decode("utf-8"))


@contextlib.contextmanager
def staged_output(fs: HadoopFS, final: str, overwrite: bool) -> Iterator[str]:
    """Yield a temporary sibling directory; on error delete it, else leave it for ``commit``."""
    final = final.rstrip("/")
    if fs.exists(final) and not overwrite:
        raise InputError(f"output {final} already exists; pass --overwrite to replace it")
    parent, _, name = final.rpartition("/")
    tmp = f"{parent}/_{name}.tmp-{uuid.uuid4().hex[:12]}"
    fs.mkdirs(tmp)
    try:
        yield tmp
    except BaseException:
        fs.delete(tmp)
        raise


def commit(fs: HadoopFS, tmp: str, final: str, manifest: Dict[str, Any]) -> None:
    """Move a finished temporary directory into place, then write the manifest last."""
    final = final.rstrip("/")
    if fs.exists(final):
        fs.delete(final)
    fs.rename(tmp, final)
    body = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    fs.write_bytes(join(final, "_" + MANIFEST + ".tmp"), body)
    fs.rename(join(final, "_" + MANIFEST + ".tmp"), join(final, MANIFEST))


class Timer:
    """Wall-clock time per phase, reported in the manifests."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self.phases: Dict[str, float] = {}
        self._t = self._now()

    def lap(self, name: str) -> None:
        t = self._now()
        self.phases[name] = round(self.phases.get(name, 0.0) + t - self._t, 3)
        self._t = t


@contextlib.contextmanager
def spark_conf(spark: Any, settings: Dict[str, str]) -> Iterator[None]:
    """Set SQL confs for the duration of a block and restore the previous values."""
    old = {k: spark.conf.get(k, None) for k in settings}
    for k, v in settings.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)
