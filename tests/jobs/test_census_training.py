"""The census-income training job on local Spark: the recipe previewed locally, written as Parquet,
then a random forest trained on it; AUC bands, metrics.json, bad input, spark-submit, Python 3.9."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emr_patterns.jobs.census_ml import train
from emr_patterns.spec.databrew import (
    CENSUS_INCOME_LABEL_COLUMN,
    CENSUS_INCOME_OUTPUT_COLUMNS,
    CENSUS_INCOME_RECIPE,
)
from emr_patterns.spec.databrew_local import apply_steps
from tests.census_data import census_frame

pytestmark = [pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[2]
VENV39 = ROOT / ".cache" / "emr-py39-venv" / "bin" / "python"
ROWS = 2000
SIGNAL_AUC_BAND = (0.72, 0.95)
"""The synthetic income follows a logistic model of the features; a forest finds most of it."""
NO_SIGNAL_AUC_BAND = (0.35, 0.65)
"""Income drawn independently of every feature: AUC near 0.5, within sampling noise for ~400 rows."""
FAST = ["--num-trees", "10", "--max-depth", "5", "--log-level", "ERROR"]


def _prepared(path: Path, **kwargs) -> str:
    frame = apply_steps(census_frame(ROWS, **kwargs), CENSUS_INCOME_RECIPE.to_steps())
    assert tuple(frame.columns) == CENSUS_INCOME_OUTPUT_COLUMNS
    frame.to_parquet(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> str:
    return _prepared(tmp_path_factory.mktemp("prepared") / "census.parquet")


def _metrics(output: Path) -> dict:
    return json.loads((output / "metrics.json").read_text())


def test_training_reaches_the_auc_band_and_writes_model_and_metrics(spark, prepared, tmp_path):
    out = tmp_path / "run"
    assert train.main(["--input", prepared, "--output", str(out), "--seed", "7", *FAST]) == 0
    metrics = _metrics(out)
    low, high = SIGNAL_AUC_BAND
    assert low <= metrics["validation"]["auc"] <= high, metrics
    assert low <= metrics["test"]["auc"] <= high, metrics
    rows = metrics["rows"]
    assert rows == {"input": ROWS, "left_out_null_features": 0, "used": ROWS}
    parts = [metrics[p]["rows"] for p in ("train", "validation", "test")]
    assert sum(parts) == ROWS and all(300 < n < 500 for n in parts[1:]) and parts[0] > 1000
    assert metrics["label_column"] == CENSUS_INCOME_LABEL_COLUMN == train.DEFAULT_LABEL_COLUMN
    assert metrics["feature_columns"] == list(CENSUS_INCOME_OUTPUT_COLUMNS[:-1])
    assert metrics["metric"] == "areaUnderROC" and metrics["seed"] == 7

    from pyspark.ml import PipelineModel

    model = PipelineModel.load(str(out / "model"))
    scored = model.transform(spark.read.parquet(prepared).limit(5))
    assert {"features", "probability", "prediction"} <= set(scored.columns) and scored.count() == 5


def test_auc_is_near_one_half_without_signal(spark, tmp_path):
    data = _prepared(tmp_path / "random.parquet", random_label=True)
    out = tmp_path / "run"
    assert train.main(["--input", data, "--output", str(out), *FAST]) == 0
    metrics = _metrics(out)
    for part in ("validation", "test"):
        assert NO_SIGNAL_AUC_BAND[0] <= metrics[part]["auc"] <= NO_SIGNAL_AUC_BAND[1], metrics


def test_feature_columns_option_and_null_features(spark, tmp_path):
    frame = apply_steps(census_frame(ROWS), CENSUS_INCOME_RECIPE)
    frame.loc[:9, "age"] = None
    data = tmp_path / "nulls.parquet"
    frame.to_parquet(data, index=False)
    out = tmp_path / "run"
    args = [
        "--input",
        str(data),
        "--output",
        str(out),
        "--feature-columns",
        "age, education-num,hours-per-week",
    ]
    assert train.main([*args, *FAST]) == 0
    metrics = _metrics(out)
    assert metrics["feature_columns"] == ["age", "education-num", "hours-per-week"]
    assert metrics["rows"] == {"input": ROWS, "left_out_null_features": 10, "used": ROWS - 10}
    assert sum(metrics[p]["rows"] for p in ("train", "validation", "test")) == ROWS - 10
    assert metrics["validation"]["auc"] > 0.6


def _fails(capsys, args, expected: str) -> None:
    assert train.main([*args, *FAST]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("train: error: ")]
    assert len(lines) == 1 and expected in lines[0], err


def test_bad_input_fails_with_one_line_and_exit_2(spark, prepared, tmp_path, capsys):
    frame = apply_steps(census_frame(200), CENSUS_INCOME_RECIPE)
    out = str(tmp_path / "out")

    no_label = tmp_path / "no_label.parquet"
    frame.drop(columns=["label"]).to_parquet(no_label, index=False)
    _fails(capsys, ["--input", str(no_label), "--output", out], "label column 'label' is not in the input")

    raw = tmp_path / "raw.parquet"  # the recipe not applied: categories are still text
    census_frame(200).assign(label=frame["label"]).to_parquet(raw, index=False)
    _fails(
        capsys,
        ["--input", str(raw), "--output", out, "--feature-columns", "age,workclass"],
        "feature column(s) workclass not numeric (StringType)",
    )
    _fails(
        capsys,
        ["--input", str(raw), "--output", out, "--label-column", "income"],
        "is StringType, not numeric",
    )
    _fails(
        capsys,
        ["--input", prepared, "--output", out, "--feature-columns", "age,nope"],
        "nope not in the input",
    )

    one_class = tmp_path / "one_class.parquet"
    frame.assign(label=0.0).to_parquet(one_class, index=False)
    _fails(capsys, ["--input", str(one_class), "--output", out], "has one class only (0.0 in all 200 rows)")

    null_label = tmp_path / "null_label.parquet"
    frame.assign(label=[None] * 3 + list(frame["label"][3:])).to_parquet(null_label, index=False)
    _fails(capsys, ["--input", str(null_label), "--output", out], "has 3 null value(s) in 200 rows")

    three = tmp_path / "three.parquet"
    frame.assign(label=[2.0, *list(frame["label"][1:])]).to_parquet(three, index=False)
    _fails(capsys, ["--input", str(three), "--output", out], "has values [2.0]; it must be 0 or 1")

    empty = tmp_path / "empty.parquet"
    frame.iloc[:0].to_parquet(empty, index=False)
    _fails(capsys, ["--input", str(empty), "--output", out], "the input has no rows")

    empty_dir = tmp_path / "empty_dir"
    empty_dir.mkdir()
    _fails(capsys, ["--input", str(empty_dir), "--output", out], "holds no Parquet rows")
    _fails(capsys, ["--input", str(tmp_path / "missing"), "--output", out], "does not exist")

    tiny = tmp_path / "tiny.parquet"
    frame.iloc[:6].to_parquet(tiny, index=False)
    _fails(capsys, ["--input", str(tiny), "--output", out], "split has")

    _fails(
        capsys, ["--input", prepared, "--output", out, "--test-fraction", "0.9"], "leave some rows to train"
    )
    assert not (tmp_path / "out").exists()


def test_existing_output_needs_overwrite_and_the_seed_repeats_the_run(spark, prepared, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(["--input", prepared, "--output", str(out), *FAST]) == 0
    first = _metrics(out)
    _fails(capsys, ["--input", prepared, "--output", str(out)], "already exists; pass --overwrite")
    assert train.main(["--input", prepared, "--output", str(out), "--overwrite", *FAST]) == 0
    again = _metrics(out)  # the same seed: the same split and the same forest
    for part in ("train", "validation", "test"):
        assert again[part]["rows"] == first[part]["rows"]
    assert again["test"]["auc"] == pytest.approx(first["test"]["auc"], abs=1e-9)


def _submit(*args: str) -> subprocess.CompletedProcess:
    import pyspark

    spark_submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARK_HOME", "PYSPARK_GATEWAY_PORT")
    }
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    cmd = [
        spark_submit, "--master", "local[2]", "--driver-memory", "1g",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.ui.showConsoleProgress=false",
        train.__file__, *args,
    ]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_spark_submit_runs_the_script(prepared, tmp_path):
    out = tmp_path / "run"
    run = _submit("--input", prepared, "--output", f"file://{out}", *FAST)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "train: wrote" in run.stdout and "validation AUC" in run.stdout
    metrics = _metrics(out)
    assert SIGNAL_AUC_BAND[0] <= metrics["test"]["auc"] <= SIGNAL_AUC_BAND[1]
    assert (out / "model" / "metadata").is_dir()

    run = _submit("--input", str(tmp_path / "missing"), "--output", str(tmp_path / "x"))
    assert run.returncode == 2
    assert [line for line in run.stderr.splitlines() if line.startswith("train: error: ")] == [
        f"train: error: --input {tmp_path / 'missing'} does not exist"
    ]


def test_job_runs_under_python_39():
    """EMR 7 runs Python 3.9: the script compiles there, and its module body and --help run."""
    if not VENV39.exists():
        pytest.fail(f"{VENV39} is missing: run `make emr-test-venv` (part of `make install`)")
    files = [str(p) for p in sorted((ROOT / "jobs" / "census_ml").glob("*.py"))]
    run = subprocess.run(
        [str(VENV39), "-m", "py_compile", *files], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    run = subprocess.run(
        [str(VENV39), train.__file__, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0 and "--label-column" in run.stdout, run.stderr
