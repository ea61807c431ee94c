"""``--overwrite`` is write-then-switch: a complete dataset exists at every moment, the old one is
removed only after the switch, and only our own datasets that nobody is reading are replaced."""

import datetime
import json
import os

import numpy as np
import pandas as pd
import pytest

from emr_patterns.jobs.widematrix import aggregate, commit, ingest

pytestmark = pytest.mark.spark

OLD = "cell,g1,g2\nc1,1,0\nc2,0,2\nc3,3,0\n"
NEW = "cell,g1,g2\nc1,5,5\nc2,0,7\nc3,9,0\n"
META = "cell,type\nc1,A\nc2,B\nc3,A\n"


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def _read(ds):
    """The dataset as a reader sees it: the manifest, then the version it names."""
    with open(os.path.join(ds, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    root = commit.data_root(ds, manifest)
    m = pd.read_parquet(os.path.join(root, "matrix")).sort_values(["cell", "gene"])
    return manifest, m[["cell", "gene", "value"]].to_numpy().tolist()


def _dense(text):
    rows = [line.split(",")[1:] for line in text.strip().splitlines()[1:]]
    dense = np.array(rows, dtype=float)
    return [[i, j, dense[i, j]] for i, j in zip(*np.nonzero(dense), strict=True)]


@pytest.fixture
def old_dataset(spark, tmp_path):
    meta = _write(tmp_path / "cells.csv", META)
    ds = str(tmp_path / "ds")
    ingest.run_ingest(spark, _write(tmp_path / "old.csv", OLD), ds, metadata_uri=meta)
    return {"ds": ds, "meta": meta, "tmp": tmp_path}


def _overwrite(old, text, name="new.csv"):
    src = _write(old["tmp"] / name, text)
    return ingest.main(["--input", src, "--metadata", old["meta"], "--output", old["ds"], "--overwrite"])


def test_overwrite_switches_versions_and_removes_the_old_one_after_the_switch(
    spark, old_dataset, monkeypatch
):
    ds = old_dataset["ds"]
    seen = []
    real = commit.write_manifest

    def observed(fs, root, manifest):
        if root.endswith("/ds"):
            seen.append(("before switch", _read(ds)[1]))  # the new version is written; old still live
        real(fs, root, manifest)
        if root.endswith("/ds"):
            seen.append(("after switch", _read(ds)[1], sorted(os.listdir(ds))))

    monkeypatch.setattr(commit, "write_manifest", observed)
    assert _overwrite(old_dataset, NEW) == 0
    (_, before), (_, after, listing) = seen
    assert before == _dense(OLD)
    assert after == _dense(NEW)
    assert "matrix" in listing  # the old files were still there when the new manifest went live
    manifest, values = _read(ds)
    assert values == _dense(NEW) and manifest["data_dir"].startswith("_v-")
    assert sorted(n for n in os.listdir(ds) if not n.startswith(".")) == [
        manifest["data_dir"],
        "manifest.json",
    ]
    # a second overwrite replaces a versioned dataset the same way
    monkeypatch.setattr(commit, "write_manifest", real)
    assert _overwrite(old_dataset, OLD, "again.csv") == 0
    again, values = _read(ds)
    assert values == _dense(OLD) and again["data_dir"] != manifest["data_dir"]
    assert sorted(n for n in os.listdir(ds) if not n.startswith(".")) == [again["data_dir"], "manifest.json"]
    views = str(old_dataset["tmp"] / "views")
    vm = aggregate.run_aggregate(spark, ds, "type", views, stats=["mean"], hbase=False)
    mean = pd.read_parquet(os.path.join(views, "mean"))
    got = {(g, gene): v for g, gene, v in mean[["group", "gene", "value"]].itertuples(index=False)}
    assert vm["dataset"]["nnz"] == 3 and got == {("A", "g1"): 2.0, ("B", "g2"): 2.0}
    assert not os.path.exists(os.path.join(ds, commit.READERS))  # the aggregate's lease is gone


def test_a_failed_overwrite_leaves_the_old_dataset_intact_and_readable(spark, old_dataset, capsys):
    ds = old_dataset["ds"]
    before = _read(ds)
    listing = sorted(os.listdir(ds))
    assert _overwrite(old_dataset, "cell,g1,g2\nc1,1,0\nc2,0,x\n", "bad.csv") == 2
    assert "non-numeric value 'x'" in capsys.readouterr().err
    assert _read(ds) == before and sorted(os.listdir(ds)) == listing  # no _v-* left behind
    views = str(old_dataset["tmp"] / "views")
    vm = aggregate.run_aggregate(spark, ds, "type", views, stats=["mean"], hbase=False)
    assert vm["dataset"]["nnz"] == len(_dense(OLD))


@pytest.mark.parametrize(
    ("name", "body", "found"),
    [
        ("notes.txt", "keep me", "(no manifest.json)"),
        ("manifest.json", "[1, 2]", "(its manifest.json is not a JSON object)"),
    ],
    ids=["no-manifest", "not-our-manifest"],
)
def test_overwrite_refuses_a_directory_that_is_not_a_dataset(spark, tmp_path, capsys, name, body, found):
    target = tmp_path / "precious"
    target.mkdir()
    (target / name).write_text(body, encoding="utf-8")
    src = _write(tmp_path / "m.csv", OLD)
    assert ingest.main(["--input", src, "--output", str(target), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert f"--overwrite: file://{target} is not a widematrix-dataset written by these jobs {found}" in err
    assert "refusing to replace it. Fix: choose another --output" in err
    assert sorted(os.listdir(target)) == [name]


def test_overwrite_refuses_an_output_of_another_kind(spark, old_dataset, tmp_path, capsys):
    views = str(tmp_path / "views")
    aggregate.run_aggregate(spark, old_dataset["ds"], "type", views, stats=["mean"], hbase=False)
    src = _write(tmp_path / "m.csv", OLD)
    assert ingest.main(["--input", src, "--output", views, "--overwrite"]) == 2
    assert "its manifest.json is of kind 'widematrix-views'" in capsys.readouterr().err
    assert os.path.isdir(os.path.join(views, "mean"))


def test_overwrite_refuses_a_dataset_an_aggregate_run_is_reading(spark, old_dataset, monkeypatch, capsys):
    ds = old_dataset["ds"]
    during = {}
    real = aggregate._write_views

    def overwrite_meanwhile(*args, **kwargs):
        during["exit"] = _overwrite(old_dataset, NEW)
        during["err"] = capsys.readouterr().err
        return real(*args, **kwargs)

    monkeypatch.setattr(aggregate, "_write_views", overwrite_meanwhile)
    views = str(old_dataset["tmp"] / "views")
    vm = aggregate.run_aggregate(spark, ds, "type", views, stats=["mean"], hbase=False)
    assert during["exit"] == 2
    assert f"--overwrite: file://{ds} is being read by aggregate run " in during["err"]
    assert f"lease file://{ds}/_readers/" in during["err"] and "wait for that run to finish" in during["err"]
    assert vm["dataset"]["nnz"] == len(_dense(OLD)) and _read(ds)[1] == _dense(OLD)
    monkeypatch.undo()
    assert _overwrite(old_dataset, NEW) == 0  # the lease went with the reader
    assert _read(ds)[1] == _dense(NEW)


def test_a_stale_lease_does_not_block_an_overwrite(spark, old_dataset):
    ds = old_dataset["ds"]
    os.makedirs(os.path.join(ds, commit.READERS))
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=commit.LEASE_STALE_S + 60)
    lease = {"run_id": "died", "job": "aggregate", "started_utc": started.isoformat()}
    with open(os.path.join(ds, commit.READERS, "died.json"), "w", encoding="utf-8") as f:
        json.dump(lease, f)
    assert _overwrite(old_dataset, NEW) == 0
    assert _read(ds)[1] == _dense(NEW)


def test_a_reader_arriving_during_an_overwrite_keeps_the_old_version(spark, old_dataset, monkeypatch):
    ds = old_dataset["ds"]
    real = commit.write_manifest
    lease = os.path.join(ds, commit.READERS, "late.json")

    def reader_arrives(fs, root, manifest):
        if root.endswith("/ds") and not os.path.exists(lease):
            os.makedirs(os.path.dirname(lease), exist_ok=True)
            now = datetime.datetime.now(datetime.UTC).isoformat()
            with open(lease, "w", encoding="utf-8") as f:
                json.dump({"run_id": "late", "job": "aggregate", "started_utc": now}, f)
        real(fs, root, manifest)

    monkeypatch.setattr(commit, "write_manifest", reader_arrives)
    assert _overwrite(old_dataset, NEW) == 0
    assert _read(ds)[1] == _dense(NEW)
    assert os.path.isdir(os.path.join(ds, "matrix"))  # the late reader may still be reading these
    monkeypatch.undo()
    os.remove(lease)
    assert _overwrite(old_dataset, OLD, "again.csv") == 0  # the next overwrite clears both old versions
    manifest, values = _read(ds)
    assert values == _dense(OLD)
    names = {n for n in os.listdir(ds) if not n.startswith(".")}
    assert names == {manifest["data_dir"], commit.READERS, "manifest.json"}


def test_the_lease_goes_with_a_failed_reader_too(spark, old_dataset):
    from emr_patterns.jobs.widematrix.errors import InputError

    with pytest.raises(InputError, match=r"unknown --group-by column 'nope'"):
        aggregate.run_aggregate(spark, old_dataset["ds"], "nope", str(old_dataset["tmp"] / "views"))
    assert not os.path.exists(os.path.join(old_dataset["ds"], commit.READERS))
    assert _overwrite(old_dataset, NEW) == 0


def test_a_reader_that_cannot_write_its_lease_is_refused(spark, old_dataset, monkeypatch):
    """A stand-in for a read-only dataset: the tests run as root, so file modes do not stop them."""
    from emr_patterns.jobs.widematrix import fsio
    from emr_patterns.jobs.widematrix.errors import InputError

    real = fsio.HadoopFS.write_bytes

    def denied(self, uri, data):
        if f"/{commit.READERS}/" in uri:
            raise RuntimeError("org.apache.hadoop.security.AccessControlException: Permission denied")
        return real(self, uri, data)

    monkeypatch.setattr(fsio.HadoopFS, "write_bytes", denied)
    views = str(old_dataset["tmp"] / "views")
    with pytest.raises(InputError, match=r"cannot write the reader lease .*/_readers/.*Permission denied"):
        aggregate.run_aggregate(spark, old_dataset["ds"], "type", views)
    assert not os.path.exists(views)


@pytest.mark.parametrize("data_dir", ["../elsewhere", "matrix", "_v-1/../../x"])
def test_a_manifest_pointing_outside_its_versions_is_refused(data_dir):
    from emr_patterns.jobs.widematrix.errors import InputError

    with pytest.raises(InputError, match=r"names data_dir .* which is not a version folder"):
        commit.data_root("s3://lake/ds", {"data_dir": data_dir})
    assert commit.data_root("s3://lake/ds/", {}) == "s3://lake/ds"
    assert commit.data_root("s3://lake/ds", {"data_dir": "_v-abc"}) == "s3://lake/ds/_v-abc"
