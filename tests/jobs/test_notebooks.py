"""The notebook pipeline's sample notebooks, executed the way a notebook execution runs them.

``StartNotebookExecution`` runs papermill: the ``NotebookParams`` JSON becomes a cell of
assignments inserted after the cell tagged ``parameters``, then every code cell runs in order in
one kernel (the EMR PySpark kernel, ``spark`` predefined). ``_execute`` does the same with the
test session's ``spark`` (papermill itself is not a dependency). Expected values are computed
from the generator's rows in plain Python.
"""

import datetime
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from emr_patterns.jobs import notebooks
from emr_patterns.jobs.notebooks import sample_cases

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".cache" / "emr-py39-venv" / "bin" / "python"
NAMES = ("daily_top_states", "trailing_n_days")


def _read(name: str) -> dict:
    return json.loads(Path(notebooks.NOTEBOOKS[name]).read_text(encoding="utf-8"))


def _execute(name: str, params: dict, spark) -> dict:
    """Run the notebook's code cells as papermill does; the namespace afterwards."""
    cells = [c for c in _read(name)["cells"] if c["cell_type"] == "code"]
    sources = []
    for cell in cells:
        sources.append("".join(cell["source"]))
        if "parameters" in cell["metadata"].get("tags", []):
            sources.append("# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items()))
    namespace = {"spark": spark}
    for i, source in enumerate(sources):
        exec(compile(source, f"{name}.ipynb[code cell {i}]", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """60 days from 2021-01-01 for ten states; Ohio has no row on 2021-02-20 and 2021-02-21."""
    root = tmp_path_factory.mktemp("cases")
    rows = sample_cases.generate(days=60, skip=[("Ohio", "2021-02-20"), ("Ohio", "2021-02-21")])
    path = root / "cases.csv"
    sample_cases.write_csv(str(path), rows)
    return {"path": str(path), "rows": rows[1:], "root": root}


def _on(rows, date):
    return {r[1]: (int(r[2]), int(r[3])) for r in rows if r[0] == date}


@pytest.mark.spark
def test_daily_top_states(spark, cases):
    result_uri = str(cases["root"] / "daily.json")
    params = {
        "DATE": "2021-02-15",
        "TOP_K": 3,
        "US_STATES": ["New York", "Vermont"],
        "INPUT": cases["path"],
        "RESULT_URI": result_uri,
    }
    _execute("daily_top_states", params, spark)
    result = json.loads(Path(result_uri).read_text())
    day = _on(cases["rows"], "2021-02-15")
    ranked = sorted(day, key=lambda s: (-day[s][0], s))[:3]
    assert result["date"] == "2021-02-15" and result["top_state"] == ranked[0] == "California"
    assert result["top_k"] == [
        {"rank": i + 1, "state": s, "confirmed": day[s][0], "deaths": day[s][1]} for i, s in enumerate(ranked)
    ]
    assert result["fatality_rates"] == {s: day[s][1] / day[s][0] for s in ("New York", "Vermont")}
    assert result["input"] == cases["path"]


@pytest.mark.spark
def test_chained_the_way_the_state_machine_runs_them(spark, cases):
    """The first notebook's ``top_state`` becomes the second one's ``STATE``. Parameters may come
    as strings (``States.Format``): whole numbers and the state list are read from text too."""
    first_uri = str(cases["root"] / "first.json")
    _execute(
        "daily_top_states",
        {"DATE": "2021-03-01", "TOP_K": "2", "US_STATES": "Texas, Ohio", "INPUT": cases["path"],
         "RESULT_URI": first_uri},
        spark,
    )  # fmt: skip
    first = json.loads(Path(first_uri).read_text())
    assert [e["rank"] for e in first["top_k"]] == [1, 2] and set(first["fatality_rates"]) == {"Texas", "Ohio"}

    second_uri = str(cases["root"] / "second.json")
    params = {"STATE": first["top_state"], "DATE": first["date"], "N_DAYS": "7", "INPUT": cases["path"]}
    _execute("trailing_n_days", {**params, "RESULT_URI": second_uri}, spark)
    second = json.loads(Path(second_uri).read_text())
    series = {r[0]: int(r[2]) for r in cases["rows"] if r[1] == first["top_state"]}
    dates = [(datetime.date(2021, 3, 1) - datetime.timedelta(days=6 - i)).isoformat() for i in range(7)]
    before = (datetime.date(2021, 2, 22)).isoformat()
    assert second["state"] == "California" and second["date"] == "2021-03-01" and second["n_days"] == 7
    assert second["start_date"] == dates[0] and second["missing_dates"] == []
    expected = []
    previous = series[before]
    for d in dates:
        expected.append({"date": d, "confirmed": series[d], "new_cases": series[d] - previous})
        previous = series[d]
    assert second["series"] == expected
    assert second["new_cases_total"] == series[dates[-1]] - series[before]
    assert second["average_daily_new_cases"] == pytest.approx(second["new_cases_total"] / 7)
    assert second["growth_rate"] == pytest.approx((series[dates[-1]] - series[dates[0]]) / series[dates[0]])


@pytest.mark.spark
def test_trailing_window_with_gaps_and_the_first_day_of_the_data(spark, cases):
    uri = str(cases["root"] / "gaps.json")
    ns = _execute(
        "trailing_n_days",
        {"STATE": "Ohio", "DATE": "2021-02-22", "N_DAYS": 5, "INPUT": cases["path"], "RESULT_URI": uri},
        spark,
    )
    result = json.loads(Path(uri).read_text())
    assert result == ns["result"]
    assert result["missing_dates"] == ["2021-02-20", "2021-02-21"]
    assert [p["date"] for p in result["series"]] == ["2021-02-18", "2021-02-19", "2021-02-22"]
    ohio = {r[0]: int(r[2]) for r in cases["rows"] if r[1] == "Ohio"}
    assert result["series"][2]["new_cases"] == ohio["2021-02-22"] - ohio["2021-02-19"]

    _execute(
        "trailing_n_days",
        {"STATE": "Ohio", "DATE": "2021-01-03", "N_DAYS": 30, "INPUT": cases["path"], "RESULT_URI": uri},
        spark,
    )
    result = json.loads(Path(uri).read_text())
    assert result["series"][0] == {"date": "2021-01-01", "confirmed": ohio["2021-01-01"], "new_cases": None}
    assert len(result["missing_dates"]) == 27 and len(result["series"]) == 3


@pytest.mark.spark
@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("daily_top_states", {"DATE": "2022-01-01"},
         "no data for DATE 2022-01-01 in {input} (the data covers 2021-01-01 to 2021-03-01)"),
        ("daily_top_states", {"US_STATES": ["Texas", "Atlantis"]},
         "US_STATES: no data on 2021-02-01 for Atlantis; states with data that day: Arizona, California"),
        ("daily_top_states", {"DATE": "02/01/2021"}, "DATE '02/01/2021' is not a date in yyyy-mm-dd form"),
        ("daily_top_states", {"TOP_K": 0}, "TOP_K 0 must be at least 1"),
        ("daily_top_states", {"US_STATES": []}, "US_STATES is empty"),
        ("trailing_n_days", {"STATE": "Atlantis"},
         "STATE 'Atlantis': unknown, no rows in {input}; states in the data: Arizona, California"),
        ("trailing_n_days", {"STATE": "Ohio", "DATE": "2021-02-20"},
         "no data for STATE 'Ohio' on DATE 2021-02-20 in {input}"),
        ("trailing_n_days", {"N_DAYS": "a week"}, "N_DAYS 'a week' is not a whole number"),
        ("trailing_n_days", {"INPUT": ""}, "INPUT must be a file location"),
    ],
)  # fmt: skip
def test_bad_parameters_and_data_raise_clearly(spark, cases, name, params, message):
    base = {
        "DATE": "2021-02-01",
        "INPUT": cases["path"],
        "RESULT_URI": str(cases["root"] / "never.json"),
        **({"TOP_K": 3, "US_STATES": ["Texas"]} if name == "daily_top_states" else {"STATE": "Texas"}),
    }
    with pytest.raises(ValueError, match=re.escape(message.format(input=cases["path"]))):
        _execute(name, {**base, **params}, spark)
    assert not (cases["root"] / "never.json").exists()


@pytest.mark.spark
def test_missing_column_is_named(spark, tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("date,state,cases\n2021-01-01,Ohio,5\n")
    with pytest.raises(
        ValueError, match=r"missing column\(s\) confirmed, deaths \(header has: date, state, cases\)"
    ):
        _execute("trailing_n_days", {"STATE": "Ohio", "DATE": "2021-01-01", "INPUT": str(csv),
                                     "RESULT_URI": str(tmp_path / "r.json")}, spark)  # fmt: skip


@pytest.mark.spark
def test_source_with_parameters_runs_the_same_code(spark, cases):
    params = {"STATE": "Texas", "DATE": "2021-02-10", "N_DAYS": 3, "INPUT": cases["path"]}
    mine, theirs = str(cases["root"] / "mine.json"), str(cases["root"] / "theirs.json")
    _execute("trailing_n_days", {**params, "RESULT_URI": mine}, spark)
    source = notebooks.source_with_parameters(
        notebooks.NOTEBOOKS["trailing_n_days"], {**params, "RESULT_URI": theirs}
    )
    exec(compile(source, "trailing_n_days", "exec"), {"spark": spark})
    assert json.loads(Path(mine).read_text()) == json.loads(Path(theirs).read_text())


# --- structure: what the construct and the notebook execution rely on -------------------------

PARAMETERS = {
    "daily_top_states": ("DATE", "TOP_K", "US_STATES", "INPUT", "RESULT_URI"),
    "trailing_n_days": ("STATE", "DATE", "N_DAYS", "INPUT", "RESULT_URI"),
}


@pytest.mark.parametrize("name", NAMES)
def test_notebook_structure(name):
    nb = _read(name)
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "pysparkkernel"
    assert nb["metadata"]["kernelspec"]["display_name"] == "PySpark"
    tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1 and tagged[0]["cell_type"] == "code"
    path = notebooks.NOTEBOOKS[name]
    assert notebooks.parameter_names(path) == PARAMETERS[name]
    assert notebooks.parameters_cell(path) == "".join(tagged[0]["source"])
    # every parameter: a comment on its line and a row of the table in the first (markdown) cell
    doc = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown"
    for line, parameter in zip(notebooks.parameters_cell(path).splitlines(), PARAMETERS[name], strict=True):
        assert line.startswith(f"{parameter} = ") and "  # " in line, line
        assert f"| `{parameter}` | " in doc, parameter
    defaults = notebooks.parameter_defaults(path)
    assert set(defaults) == set(PARAMETERS[name]) and defaults["DATE"] == "2021-03-01"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None  # shipped clean
        for line in "".join(cell["source"]).splitlines():
            assert not line.startswith(("%", "!")), f"Jupyter-only line: {line}"


def test_check_params_names_unknown_keys():
    path = notebooks.NOTEBOOKS["trailing_n_days"]
    assert notebooks.check_params(path, {"STATE": "Ohio", "N_DAYS": 7}) == []
    (problem,) = notebooks.check_params(path, {"STATE": "Ohio", "TOP_K": 3})
    assert problem == (
        "NotebookParams key 'TOP_K' is not a parameter of trailing_n_days.ipynb "
        "(its parameters: STATE, DATE, N_DAYS, INPUT, RESULT_URI)"
    )
    with pytest.raises(ValueError, match="'TOP_K' is not a parameter"):
        notebooks.source_with_parameters(path, {"TOP_K": 3})


def test_parameters_cell_rules(tmp_path):
    def nb(*cells):
        path = tmp_path / "n.ipynb"
        path.write_text(json.dumps({"cells": list(cells), "nbformat": 4, "metadata": {}}))
        return str(path)

    def cell(source, *tags):
        return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source}

    with pytest.raises(ValueError, match="0 code cells tagged 'parameters', need exactly one"):
        notebooks.parameter_names(nb(cell("A = 1")))
    with pytest.raises(ValueError, match="2 code cells tagged 'parameters'"):
        notebooks.parameter_names(nb(cell("A = 1", "parameters"), cell("B = 1", "parameters")))
    with pytest.raises(ValueError, match=r"only `NAME = literal` lines \(line 2\)"):
        notebooks.parameter_names(nb(cell("A = 1\nprint(A)\n", "parameters")))
    assert notebooks.parameter_names(nb(cell(["A = 1\n", "B: int = 2\n"], "parameters"))) == ("A", "B")


def test_notebook_code_and_helpers_on_python_39(tmp_path):
    """The cluster's Python (3.9) compiles every code cell and runs the helper module."""
    if not VENV_PYTHON.exists():
        pytest.fail(f"{VENV_PYTHON} is missing: run `make emr-test-venv` (part of `make install`)")
    files = []
    for name in NAMES:
        source = "\n\n".join(s for _, s, _ in notebooks.code_cells(notebooks.NOTEBOOKS[name]))
        files.append(tmp_path / f"{name}.py")
        files[-1].write_text(source, encoding="utf-8")
    folder = Path(notebooks.__file__).parent
    files += [folder / "__init__.py", folder / "sample_cases.py"]
    probe = (
        "import sys, py_compile, importlib.util\n"
        "[py_compile.compile(f, cfile=f + 'c', doraise=True) for f in sys.argv[2:]]\n"
        "spec = importlib.util.spec_from_file_location('nb', sys.argv[1] + '/__init__.py')\n"
        "nb = importlib.util.module_from_spec(spec); spec.loader.exec_module(nb)\n"
        "print(list(sys.version_info[:2]), [nb.parameter_names(p) for p in sorted(nb.NOTEBOOKS.values())])\n"
    )
    run = subprocess.run(
        [str(VENV_PYTHON), "-c", probe, str(folder), *[str(f) for f in files[:2]]],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"[3, 9] {[PARAMETERS[n] for n in NAMES]}"
    out = tmp_path / "cases.csv"
    run = subprocess.run(
        [str(VENV_PYTHON), str(folder / "sample_cases.py"), "--output", str(out), "--days", "3"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0 and out.read_text().splitlines()[0] == "date,state,confirmed,deaths", (
        run.stderr
    )
    assert len(out.read_text().splitlines()) == 1 + 3 * len(sample_cases.STATES)
