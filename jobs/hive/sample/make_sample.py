"""Write ``covid_cases.csv``: deterministic COVID-19-like daily cumulative counts per US state.

The seed pattern's Spark step reads the Johns Hopkins COVID-19 CSVs; this sample has the same
shape as the per-state daily series (``date,state,fips,cases,deaths``, cumulative counts that never
go down) with made-up numbers, so the bundled job runs without network access. Regenerate with
``python -m emr_patterns.jobs.hive.sample.make_sample`` (same output every time: a fixed seed and
no clock). Python 3.9; the standard library only.
"""

import csv
import datetime
import random
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

#: (state, FIPS code) of the states in the sample.
STATES: Tuple[Tuple[str, str], ...] = (
    ("California", "06"),
    ("Florida", "12"),
    ("Illinois", "17"),
    ("New York", "36"),
    ("Texas", "48"),
    ("Washington", "53"),
)
START = datetime.date(2020, 3, 1)
DAYS = 50
SEED = 20200301
COLUMNS = ("date", "state", "fips", "cases", "deaths")
OUTPUT = Path(__file__).with_name("covid_cases.csv")


def rows(seed: int = SEED, days: int = DAYS) -> List[Tuple[str, str, str, int, int]]:
    """The sample rows, ordered by date then state."""
    rng = random.Random(seed)
    cases = {state: rng.randint(1, 20) for state, _ in STATES}
    deaths = {state: 0 for state, _ in STATES}
    out: List[Tuple[str, str, str, int, int]] = []
    for day in range(days):
        date = (START + datetime.timedelta(days=day)).isoformat()
        for state, fips in STATES:
            new_cases = int(cases[state] * rng.uniform(0.02, 0.2)) + rng.randint(0, 5)
            cases[state] += new_cases
            deaths[state] += int(new_cases * rng.uniform(0.0, 0.04))
            out.append((date, state, fips, cases[state], deaths[state]))
    return out


def write(path: Path = OUTPUT) -> int:
    """Write the sample to ``path``; the number of data rows."""
    data = rows()
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(data)
    return len(data)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else OUTPUT
    print(f"wrote {write(path)} rows to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
