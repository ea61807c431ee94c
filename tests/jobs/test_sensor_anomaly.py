"""The transient pipeline's sample programs on local Spark: preprocess.py then model.py, TRAINING
then SCORING, on synthetic readings with known anomalies; bad input; spark-submit on Python 3.9.

The references are independent of Spark: numpy computes the scaling, Lloyd's k-means from the
generator's known centres and the WSSSE; the generator knows which rows are anomalies.
"""

import datetime
import json
import os
import py_compile
import subprocess
from pathlib import Path

import numpy as np
import pytest

from emr_patterns.jobs.sensor_anomaly import model, preprocess, sample_data

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "jobs" / "sensor_anomaly"
VENV_PYTHON = ROOT / ".cache" / "emr-py39-venv" / "bin" / "python"
FEBRUARY = datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC)
K_RANGE = ["--k-min", "2", "--k-max", "4"]


def _write(path: Path, sample: sample_data.Sample) -> str:
    sample_data.write_csv(str(path), sample)
    return str(path)


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _key(row) -> tuple:
    return (row["sensor_id"], row["timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ"))


@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory):
    """preprocess TRAINING -> model TRAINING -> preprocess SCORING -> model SCORING, as the state
    machine runs them for ``modes: ["TRAINING", "SCORING"]`` (one output feeds the next)."""
    root = tmp_path_factory.mktemp("sensors")
    training = sample_data.generate(rows=600, anomalies=5, random_state=1, null_rows=4, duplicate_rows=4)
    scoring = sample_data.generate(rows=600, anomalies=12, random_state=2, start=FEBRUARY)
    paths = {
        "training_csv": _write(root / "training.csv", training),
        "scoring_csv": _write(root / "scoring.csv", scoring),
        "model": str(root / "model"),
    }
    for mode, csv in (("TRAINING", paths["training_csv"]), ("SCORING", paths["scoring_csv"])):
        prepared, scored = root / mode / "preprocess", root / mode / "model"
        assert preprocess.main(["--mode", mode, "--input", csv, "--output", str(prepared), *K_RANGE]) == 0
        args = ["--mode", mode, "--input", str(prepared), "--model-location", paths["model"]]
        assert model.main([*args, "--output", str(scored)]) == 0
        paths[mode] = {"preprocess": prepared, "model": scored}
    return {"paths": paths, "training": training, "scoring": scoring}


def _lloyd(points: np.ndarray, centres: np.ndarray) -> float:
    """Plain k-means from the given centres until no point changes cluster; the WSSSE."""
    labels = None
    for _ in range(100):
        d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = d2.argmin(axis=1)
        if labels is not None and (new == labels).all():
            break
        labels = new
        centres = np.array([points[labels == j].mean(axis=0) for j in range(len(centres))])
    return float(d2[np.arange(len(points)), labels].sum())


def _clean_matrix(sample: sample_data.Sample) -> np.ndarray:
    """The rows preprocess keeps (no empty value, each distinct row once), as numbers."""
    seen, out = set(), []
    for row in sample.rows[1:]:
        if "" in row or tuple(row) in seen:
            continue
        seen.add(tuple(row))
        out.append([float(v) for v in row[2:]])
    return np.array(out)


def test_preprocess_training_chooses_three_clusters(pipeline):
    summary = _json(pipeline["paths"]["TRAINING"]["preprocess"] / "summary.json")
    assert summary["chosen_k"] == 3  # the generator's three operating states
    assert summary["rows"] == {
        "input": 608,
        "bad_dropped": 0,
        "null_dropped": 4,
        "duplicates_dropped": 4,
        "output": 600,
    }
    assert summary["k_range"] == [2, 4] and sorted(summary["wssse"]) == ["2", "3", "4"]
    assert summary["feature_columns"] == ["temperature", "vibration", "pressure", "humidity"]
    wssse = {int(k): v for k, v in summary["wssse"].items()}
    assert (wssse[2] - wssse[3]) / wssse[2] > 0.5 and (wssse[3] - wssse[4]) / wssse[3] < 0.10
    assert preprocess.choose_k(wssse, summary["min_gain"]) == 3

    x = _clean_matrix(pipeline["training"])
    mean, std = x.mean(axis=0), x.std(axis=0, ddof=1)
    assert np.allclose(summary["scaler"]["mean"], mean, rtol=1e-9)
    assert np.allclose(summary["scaler"]["std"], std, rtol=1e-9)
    scaled = (x - mean) / std
    known = (np.array(list(sample_data.STATES.values())) - mean) / std
    assert wssse[3] == pytest.approx(_lloyd(scaled, known), rel=1e-6)


def test_preprocess_writes_clean_features(spark, pipeline):
    features = spark.read.parquet(str(pipeline["paths"]["TRAINING"]["preprocess"] / "features"))
    assert features.columns == list(preprocess.COLUMNS)
    assert dict(features.dtypes)["timestamp"] == "timestamp"
    assert features.count() == 600 and features.dropna().count() == 600
    scoring = _json(pipeline["paths"]["SCORING"]["preprocess"] / "summary.json")
    assert scoring["mode"] == "SCORING" and scoring["chosen_k"] is None and scoring["wssse"] == {}
    assert scoring["rows"]["output"] == 600


def test_model_training_saves_pipeline_and_threshold(spark, pipeline):
    paths = pipeline["paths"]
    saved = _json(Path(paths["model"]) / "model.json")
    assert saved["k"] == 3 and saved["threshold_percentile"] == 99.0 and saved["training_rows"] == 600
    assert len(saved["centres"]) == 3 and all(len(c) == 4 for c in saved["centres"])
    assert (Path(paths["model"]) / "pipeline" / "metadata").is_dir()
    metrics = _json(paths["TRAINING"]["model"] / "metrics.json")
    assert metrics["threshold"] == saved["threshold"] and metrics["rows"] == 600
    # the threshold is the 99th percentile of the training distances: about 1% lie above it
    assert 3 <= metrics["anomalies"] <= 7
    assert sum(c["rows"] for c in metrics["clusters"]) == 600

    # independent distances: scale with the preprocess statistics, nearest saved centre
    scaler = _json(paths["TRAINING"]["preprocess"] / "summary.json")["scaler"]
    x = _clean_matrix(pipeline["training"])
    scaled = (x - np.array(scaler["mean"])) / np.array(scaler["std"])
    centres = np.array(saved["centres"])
    distance = np.sqrt(((scaled[:, None, :] - centres[None]) ** 2).sum(axis=2)).min(axis=1)
    # (the row at the threshold itself is not above it; numpy may differ from Spark in the last bit)
    assert int((distance > saved["threshold"] * (1 + 1e-9)).sum()) == metrics["anomalies"]
    assert np.quantile(distance, 0.985) <= saved["threshold"] <= np.quantile(distance, 0.995)


def test_model_scoring_finds_the_injected_anomalies(spark, pipeline):
    paths = pipeline["paths"]
    metrics = _json(paths["SCORING"]["model"] / "metrics.json")
    assert set(metrics) == {
        "mode", "input", "model_location", "k", "threshold", "threshold_percentile", "rows",
        "anomalies", "anomaly_rate", "max_distance", "clusters",
    }  # fmt: skip
    assert metrics["mode"] == "SCORING" and metrics["k"] == 3 and metrics["rows"] == 600
    assert metrics["threshold"] == _json(Path(paths["model"]) / "model.json")["threshold"]
    assert [c["cluster"] for c in metrics["clusters"]] == [0, 1, 2]

    anomalies = spark.read.parquet(str(paths["SCORING"]["model"] / "anomalies"))
    assert anomalies.columns == [*preprocess.COLUMNS, "cluster", "distance"]
    rows = anomalies.collect()
    assert len(rows) == metrics["anomalies"]
    assert all(r["distance"] > metrics["threshold"] for r in rows)
    flagged = {_key(r) for r in rows}
    injected = set(pipeline["scoring"].anomalies)
    assert len(flagged & injected) / len(injected) >= 0.9  # recall
    normal = 600 - len(injected)
    assert len(flagged - injected) <= 0.02 * normal  # false positives: about 1% by construction


def test_the_shared_part_is_the_same_in_both_programs():
    def shared(path: Path) -> str:
        text = path.read_text(encoding="utf-8")
        return text[text.index("# --- shared part") : text.index("# --- end of the shared part")]

    assert shared(JOBS / "preprocess.py") == shared(JOBS / "model.py")


@pytest.mark.parametrize(
    ("wssse", "k"),
    [
        ({2: 100.0, 3: 10.0, 4: 9.5, 5: 9.0}, 3),
        ({2: 100.0, 3: 95.0, 4: 10.0}, 2),  # the first small step wins, later drops do not count
        ({2: 100.0, 3: 50.0, 4: 25.0}, 4),  # every step gains more: the largest k
        ({2: 10.0, 3: 11.0, 4: 1.0}, 2),  # a worse fit (local optimum) is a small gain
        ({4: 7.0}, 4),
        ({2: 0.0, 3: 0.0}, 2),
    ],
)
def test_choose_k_is_the_documented_elbow_rule(wssse, k):
    assert preprocess.choose_k(wssse, 0.10) == k


# --- bad input: exit status 2 and one line naming the problem ---------------------------------


def _csv(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


GOOD_ROW = "sensor-001,2026-01-01T00:00:00Z,40.1,0.3,95.0,30.0\n"
HEADER = "sensor_id,timestamp,temperature,vibration,pressure,humidity\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sensor_id,timestamp,temperature,pressure\ns1,2026-01-01T00:00:00Z,1,2\n",
            "missing column(s) vibration, humidity (header has: sensor_id, timestamp, temperature, pressure)",
        ),
        ("", "no CSV data (empty files or an empty folder)"),
        (HEADER, "the header has no data rows under it"),
        (
            HEADER + GOOD_ROW + "sensor-002,2026-01-01T00:00:00Z,hot,0.3,95.0,30.0\n",
            "1 row(s) with values that are not numbers or timestamps, more than --max-bad-rows 0; "
            "first 1: {sensor_id='sensor-002', timestamp='2026-01-01T00:00:00Z', temperature='hot'",
        ),
        (HEADER + "sensor-002,yesterday,1,0.3,95.0,30.0\n", "(bad: timestamp)"),
        (HEADER + "sensor-002,2026-01-01T00:00:00Z,NaN,0.3,95.0,30.0\n", "(bad: temperature)"),
        (HEADER + "sensor-002,2026-01-01T00:00:00Z,,0.3,95.0,30.0\n", "no rows left after dropping"),
    ],
)
def test_preprocess_bad_input(spark, tmp_path, capsys, text, message):
    out = tmp_path / "out"
    csv = _csv(tmp_path / "in.csv", text)
    assert preprocess.main(["--mode", "TRAINING", "--input", csv, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"preprocess.py: error: --input {csv}: " in err and message in err, err
    assert not out.exists()


def test_preprocess_drops_up_to_max_bad_rows(spark, tmp_path):
    text = HEADER + GOOD_ROW * 3 + "sensor-002,2026-01-01T00:01:00Z,hot,0.3,95.0,30.0\n"
    for i in range(4):
        text += f"sensor-00{i + 3},2026-01-01T00:00:00Z,{40 + i},0.{i},9{i},3{i}\n"
    out = tmp_path / "out"
    csv = _csv(tmp_path / "in.csv", text)
    args = ["--mode", "TRAINING", "--input", csv, "--output", str(out), "--k-max", "2"]
    assert preprocess.main([*args, "--max-bad-rows", "1"]) == 0
    rows = _json(out / "summary.json")["rows"]
    assert rows == {"input": 8, "bad_dropped": 1, "null_dropped": 0, "duplicates_dropped": 2, "output": 5}


def test_preprocess_missing_input_and_too_few_rows(spark, tmp_path, capsys):
    missing = str(tmp_path / "nothing-here")
    assert preprocess.main(["--mode", "SCORING", "--input", missing, "--output", str(tmp_path / "o")]) == 2
    assert f"--input {missing}: no such file or folder" in capsys.readouterr().err
    csv = _csv(tmp_path / "in.csv", HEADER + GOOD_ROW)
    assert preprocess.main(["--mode", "TRAINING", "--input", csv, "--output", str(tmp_path / "o")]) == 2
    assert "1 clean row(s), fewer than --k-max 8" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mode", "TUNING"], "argument --mode: invalid choice: 'TUNING' (choose from"),
        ([], "the following arguments are required: --mode"),
        (["--mode", "training", "--k-min", "1"], "--k-min 1 must be at least 2"),
        (["--mode", "TRAINING", "--k-min", "5", "--k-max", "4"], "--k-max 4 must be at least --k-min 5"),
        (["--mode", "TRAINING", "--min-gain", "1.5"], "--min-gain 1.5 must be between 0 and 1"),
    ],
)
def test_preprocess_bad_arguments(tmp_path, capsys, argv, message):
    base = ["--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out")]
    assert preprocess.main([*base, *argv]) == 2
    assert message in capsys.readouterr().err


def test_unsupported_scheme_fails_before_spark(tmp_path, capsys):
    argv = ["--mode", "SCORING", "--input", "gs://bucket/x/", "--model-location", "m", "--output", "o"]
    assert model.main(argv) == 2
    assert "--input gs://bucket/x/: unsupported URI scheme 'gs://'" in capsys.readouterr().err


def test_model_bad_input(spark, tmp_path, capsys, pipeline):
    paths = pipeline["paths"]
    out = str(tmp_path / "out")
    # SCORING before any TRAINING: no model
    empty = str(tmp_path / "no-model")
    argv = ["--mode", "SCORING", "--input", str(paths["SCORING"]["preprocess"]), "--output", out]
    assert model.main([*argv, "--model-location", empty]) == 2
    assert (
        f"model.py: error: --model-location {empty}: no trained model (model.json not found); "
        "run model.py --mode TRAINING first"
    ) in capsys.readouterr().err
    # TRAINING on data preprocessed for SCORING: no chosen k
    argv = ["--mode", "TRAINING", "--input", str(paths["SCORING"]["preprocess"]), "--output", out]
    assert model.main([*argv, "--model-location", str(tmp_path / "m")]) == 2
    assert "no chosen k in summary.json (preprocess.py ran with --mode SCORING)" in capsys.readouterr().err
    # an input that is not preprocess output
    argv = ["--mode", "SCORING", "--input", str(tmp_path), "--output", out]
    assert model.main([*argv, "--model-location", paths["model"]]) == 2
    assert "no summary.json; point --input at the --output of preprocess.py" in capsys.readouterr().err
    # unknown mode, bad percentile
    assert model.main(["--mode", "BATCH", "--input", "i", "--model-location", "m", "--output", "o"]) == 2
    assert "argument --mode: invalid choice: 'BATCH'" in capsys.readouterr().err
    argv = ["--mode", "TRAINING", "--input", "i", "--model-location", "m", "--output", "o"]
    assert model.main([*argv, "--threshold-percentile", "100"]) == 2
    assert "100 is not between 0 and 100" in capsys.readouterr().err
    assert not os.path.exists(out)


# --- as the cluster runs them: spark-submit of the lone files, Python 3.9 ----------------------


def test_sources_compile_and_sample_data_runs_on_python_39(tmp_path):
    if not VENV_PYTHON.exists():
        pytest.fail(f"{VENV_PYTHON} is missing: run `make emr-test-venv` (part of `make install`)")
    files = [str(JOBS / n) for n in ("__init__.py", "preprocess.py", "model.py", "sample_data.py")]
    run = subprocess.run(
        [str(VENV_PYTHON), "-c", "import sys, py_compile; [py_compile.compile(f, doraise=True) "
         "for f in sys.argv[1:]]; print(sys.version_info[:2])", *files],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip() == "(3, 9)", run.stderr
    csv = tmp_path / "r.csv"
    run = subprocess.run(
        [str(VENV_PYTHON), str(JOBS / "sample_data.py"), "--output", str(csv), "--rows", "30"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert csv.read_text().splitlines()[0] == ",".join(sample_data.HEADER)
    for path in files:  # compiles here too (the test interpreter)
        py_compile.compile(path, cfile=str(tmp_path / "x.pyc"), doraise=True)


def _submit(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    import pyspark

    spark_submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARK_HOME", "VIRTUAL_ENV")}
    env.update(PYSPARK_PYTHON=str(VENV_PYTHON), PYSPARK_DRIVER_PYTHON=str(VENV_PYTHON))
    cmd = [
        spark_submit, "--master", "local[2]", "--driver-memory", "1g",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.ui.showConsoleProgress=false",
        "--conf", "spark.sql.shuffle.partitions=2",
        str(JOBS / script), *args,
    ]  # fmt: skip
    return subprocess.run(
        cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_spark_submit_of_both_lone_files_on_python_39(tmp_path):
    """As each pipeline step runs them: ``spark-submit <file> --mode ...``, no --py-files, the
    driver on Python 3.9; exit status 2 and the one-line error for SCORING before TRAINING."""
    if not VENV_PYTHON.exists():
        pytest.fail(f"{VENV_PYTHON} is missing: run `make emr-test-venv` (part of `make install`)")
    csvs = {
        "TRAINING": _write(tmp_path / "t.csv", sample_data.generate(rows=300, anomalies=2, random_state=3)),
        "SCORING": _write(tmp_path / "s.csv", sample_data.generate(rows=300, anomalies=6, random_state=4)),
    }
    work, models = tmp_path / "work", str(tmp_path / "model")

    run = _submit(tmp_path, "model.py", "--mode", "SCORING", "--input", csvs["SCORING"],
                  "--model-location", models, "--output", str(work / "x"))  # fmt: skip
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"model.py: error: --input {csvs['SCORING']}: no summary.json" in run.stderr

    for mode in ("TRAINING", "SCORING"):
        prepared, scored = str(work / mode / "preprocess"), str(work / mode / "model")
        run = _submit(tmp_path, "preprocess.py", "--mode", mode, "--input", csvs[mode], "--output", prepared,
                      "--k-min", "2", "--k-max", "4")  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
        run = _submit(tmp_path, "model.py", "--mode", mode, "--input", prepared, "--model-location", models,
                      "--output", scored)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
        assert f"model.py: {mode}: " in run.stdout
    assert _json(work / "TRAINING" / "preprocess" / "summary.json")["chosen_k"] == 3
    metrics = _json(work / "SCORING" / "model" / "metrics.json")
    assert metrics["k"] == 3 and metrics["rows"] == 300 and metrics["anomalies"] >= 6
    assert list((work / "SCORING" / "model" / "anomalies").glob("*.parquet"))
