"""Hadoop FileSystem helpers and the write-then-commit protocol shared by both jobs.

Two I/O paths, each for what it does best:

* the driver's bookkeeping (existence checks, listings, manifests, header lines, checksums,
  renames, the commit) goes through the JVM's Hadoop ``FileSystem``, so ``s3://`` means EMRFS on
  EMR, with its retries and consistency handling; only tiny things cross Py4J;
* bulk bytes (reading CSV byte ranges, writing and reading the matrix and view Parquet files)
  are moved by the Python tasks themselves with ``pyarrow.fs`` (``ArrowIO``): local paths,
  ``s3://``/``s3a://`` (AWS SDK, the instance profile's credentials, the bucket's default
  encryption) and ``hdfs://`` (libhdfs). The data never detours through the JVM, which is what
  makes the jobs fast: a Spark text read, the JVM<->Python Arrow hop and Spark's row-at-a-time
  Parquet writer cost more than the parsing and statistics themselves.

The commit protocol both jobs follow (new outputs, ``--overwrite`` as write-then-switch, readers'
leases) is in ``commit``.
"""

import contextlib
import json
import os
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .errors import InputError

MANIFEST = "manifest.json"


def join(base: str, *parts: str) -> str:
    out = base.rstrip("/")
    for part in parts:
        out = out + "/" + part.strip("/")
    return out


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file:")


def is_object_store(uri: str) -> bool:
    """S3 (``s3://``, ``s3a://``, ``s3n://``): no directories, no atomic rename, atomic PUTs."""
    return uri.startswith(("s3://", "s3a://", "s3n://"))


def local_path(uri: str) -> str:
    if uri.startswith("file://"):
        return uri[len("file://") :]
    if uri.startswith("file:"):
        return uri[len("file:") :]
    return uri


class HadoopFS:
    """Thin wrapper over ``org.apache.hadoop.fs.FileSystem`` reached through the Spark JVM."""

    def __init__(self, spark: Any) -> None:
        self.jvm = spark.sparkContext._jvm
        self._gateway = spark.sparkContext._gateway
        self.conf = spark.sparkContext._jsc.hadoopConfiguration()
        # Py4J resolves ``jvm.a.b.C`` one name at a time, each a JVM round trip: look up once
        self._path_class = self.jvm.org.apache.hadoop.fs.Path
        self._filesystems: Dict[str, Any] = {}

    def _path(self, uri: str) -> Any:
        return self._path_class(uri)

    def _fs(self, uri: str) -> Any:
        """The FileSystem for a URI's scheme and authority (Hadoop caches them too; this saves the calls)."""
        scheme, sep, rest = uri.partition("://")
        key = f"{scheme}://{rest.split('/', 1)[0]}" if sep else uri.split("/", 1)[0] or "default"
        fs = self._filesystems.get(key)
        if fs is None:
            fs = self._filesystems[key] = self._path(uri).getFileSystem(self.conf)
        return fs

    def qualify(self, uri: str) -> str:
        """A fully qualified URI, as Spark would resolve the path: a bare path means the default
        filesystem (``hdfs://`` on EMR, the local disk in local mode), relative to its working
        directory. The tasks get only qualified URIs, so they open the same file the driver sees."""
        if "://" in uri:
            return uri
        if uri.startswith("file:"):
            return "file://" + os.path.abspath(local_path(uri))
        p = self._path(uri)
        qualified = str(p.getFileSystem(self.conf).makeQualified(p).toString())
        if qualified.startswith("file:") and not qualified.startswith("file://"):
            qualified = "file://" + qualified[len("file:") :]
        return qualified

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

    def replace(self, src: str, dst: str) -> None:
        """Rename a file onto ``dst``, replacing it in one step (``FileContext`` rename with
        ``OVERWRITE``: atomic on HDFS and local disks; ``FileSystem.rename`` refuses an existing
        target on HDFS). Not for S3, where a rename is a copy: write the target directly there."""
        jvm = self.jvm
        options = self._gateway.new_array(jvm.org.apache.hadoop.fs.Options.Rename, 1)
        options[0] = jvm.org.apache.hadoop.fs.Options.Rename.OVERWRITE
        target = self._path(dst)
        context = jvm.org.apache.hadoop.fs.FileContext.getFileContext(target.toUri(), self.conf)
        context.rename(self._path(src), target, options)

    def delete_empty_dir(self, uri: str) -> None:
        """Delete a directory only if it is empty (a non-recursive delete fails otherwise)."""
        fs = self._fs(uri)
        p = self._path(uri)
        if fs.exists(p) and fs.getFileStatus(p).isDirectory():
            fs.delete(p, False)

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


class ArrowIO:
    """Task-side file access through ``pyarrow.fs`` (see the module docstring).

    One filesystem object per scheme and bucket is cached per Python worker. ``s3`` endpoints
    can be redirected (a test server, a VPC endpoint) with ``AWS_ENDPOINT_URL_S3`` or
    ``AWS_ENDPOINT_URL``.
    """

    _cache: Dict[Tuple[str, str], Any] = {}

    @classmethod
    def resolve(cls, uri: str) -> Tuple[Any, str]:
        """(pyarrow filesystem, path within it) for a URI."""
        import pyarrow.fs as pafs

        if is_local(uri):
            return pafs.LocalFileSystem(use_mmap=True), os.path.abspath(local_path(uri))
        scheme, _, rest = uri.partition("://")
        bucket = rest.split("/", 1)[0]
        key = (scheme, bucket)
        if scheme in ("s3", "s3a", "s3n"):
            if key not in cls._cache:
                endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
                kwargs: Dict[str, Any] = {}
                if endpoint:
                    kwargs["endpoint_override"] = endpoint
                    kwargs["scheme"] = "https" if endpoint.startswith("https") else "http"
                region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                # else the AWS SDK's own chain (config files, then the instance metadata), which
                # works from private subnets; a bucket-region lookup would need the global endpoint
                if region:
                    kwargs["region"] = region
                cls._cache[key] = pafs.S3FileSystem(**kwargs)
            return cls._cache[key], rest
        if scheme in ("hdfs", "viewfs"):
            if key not in cls._cache:
                cls._cache[key] = pafs.FileSystem.from_uri(uri)[0]
            return cls._cache[key], ("/" + rest.split("/", 1)[1]) if "/" in rest else "/"
        raise InputError(
            f"{uri}: the {scheme}:// scheme is not supported for data files; "
            "use s3://, hdfs:// or a local path"
        )

    @classmethod
    def open_input(cls, uri: str) -> Any:
        """A random-access reader (``read_at``/``read``/``size``); local files are memory-mapped."""
        fs, path = cls.resolve(uri)
        return fs.open_input_file(path)

    @classmethod
    def open_stream(cls, uri: str, compression: Optional[str]) -> Any:
        """A sequential reader, decompressing ``gzip``/``bz2`` on the fly."""
        fs, path = cls.resolve(uri)
        return fs.open_input_stream(path, compression=compression)

    @classmethod
    def write_parquet(cls, table: Any, uri: str, **options: Any) -> None:
        """Write one Parquet file so that readers see it whole or not at all (``_write_whole``)."""
        import pyarrow.parquet as pq

        cls._write_whole(uri, lambda fs, path: pq.write_table(table, path, filesystem=fs, **options))

    @classmethod
    def write_bytes(cls, data: bytes, uri: str) -> None:
        """Write one file of ``data`` so that readers see it whole or not at all (``_write_whole``)."""

        def write(fs: Any, path: str) -> None:
            with fs.open_output_stream(path) as out:
                out.write(data)

        cls._write_whole(uri, write)

    @classmethod
    def _write_whole(cls, uri: str, write: Callable[[Any, str], None]) -> None:
        """Run ``write(filesystem, path)`` so that readers see the file whole or not at all.

        S3 objects appear only when their upload completes, so they are written in place; on
        local disks and HDFS the file is written under a unique temporary name and renamed, so a
        re-run or speculative task attempt cannot interleave with another.
        """
        fs, path = cls.resolve(uri)
        parent = path.rsplit("/", 1)[0]
        if is_object_store(uri):  # no directories (nor marker objects) on S3
            write(fs, path)
            return
        fs.create_dir(parent, recursive=True)
        tmp = f"{parent}/.{path.rsplit('/', 1)[1]}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            write(fs, tmp)
            fs.move(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                fs.delete_file(tmp)
            raise

    @classmethod
    def parquet_file(cls, uri: str) -> Any:
        """A ``pyarrow.parquet.ParquetFile`` (footer read; row groups on demand)."""
        import pyarrow.parquet as pq

        fs, path = cls.resolve(uri)
        return pq.ParquetFile(fs.open_input_file(path))


def read_manifest(fs: HadoopFS, uri: str, what: str) -> Dict[str, Any]:
    path = join(uri, MANIFEST)
    if not fs.exists(path):
        raise InputError(
            f"{uri}: no {MANIFEST}; this is not a finished {what} (a job may have failed while writing it)"
        )
    return json.loads(fs.read_bytes(path).decode("utf-8"))


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
