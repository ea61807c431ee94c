"""Synthetic sensor readings for the tests and the documentation, with known anomalies.

Readings come from machines in three operating states (idle, running, peak load). In each state
the four measurements scatter around a centre, and the centres sit ten spreads apart on every
measurement, so k-means on the scaled readings finds exactly three clusters. An anomaly is a
normal reading pushed 7 to 9 spreads away on two of its measurements (a heat spike with heavy
vibration, a pressure drop with a humidity jump, ...): far from every centre.

On request the file also gets the dirt the preprocess step cleans: rows with an empty
measurement and rows delivered twice.

The same arguments always give the same file (Python's ``random`` with a fixed start value).
Standard library only, Python 3.9::

    python sample_data.py --output readings.csv --rows 3000 --anomalies 20 --random-state 7
"""

import argparse
import csv
import datetime
import random
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

HEADER = ("sensor_id", "timestamp", "temperature", "vibration", "pressure", "humidity")
FEATURES = HEADER[2:]

#: Operating state -> centre of each measurement (temperature C, vibration mm/s, pressure kPa,
#: relative humidity %).
STATES: Dict[str, Tuple[float, float, float, float]] = {
    "idle": (40.0, 0.3, 95.0, 30.0),
    "running": (60.0, 1.3, 120.0, 50.0),
    "peak": (80.0, 2.3, 145.0, 70.0),
}
#: Spread (standard deviation) of each measurement within a state.
SPREAD = (2.0, 0.1, 2.5, 2.0)
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)  # noqa: UP017 (Python 3.9)


class Sample(NamedTuple):
    """What was written: every row (header first) and the (sensor_id, timestamp) of each anomaly."""

    rows: List[List[str]]
    anomalies: List[Tuple[str, str]]
    clean_rows: int
    null_rows: int
    duplicate_rows: int


def _reading(rng: random.Random, state: str) -> List[float]:
    return [rng.gauss(centre, spread) for centre, spread in zip(STATES[state], SPREAD)]  # noqa: B905


def generate(
    rows: int = 3000,
    anomalies: int = 20,
    random_state: int = 7,
    sensors: int = 12,
    null_rows: int = 0,
    duplicate_rows: int = 0,
    start: datetime.datetime = START,
) -> Sample:
    """``rows`` distinct readings (``anomalies`` of them anomalous), then the extra dirty rows.

    Readings are one minute apart per sensor; the anomalies are spread evenly over the file.
    """
    if not 0 <= anomalies <= rows:
        raise ValueError(f"anomalies={anomalies} must be between 0 and rows={rows}")
    rng = random.Random(random_state)
    states = sorted(STATES)
    step = rows // anomalies if anomalies else 0
    anomalous = {i * step + step // 2 for i in range(anomalies)}
    out: List[List[str]] = [list(HEADER)]
    found: List[Tuple[str, str]] = []
    for i in range(rows):
        sensor = f"sensor-{i % sensors + 1:03d}"
        when = (start + datetime.timedelta(minutes=i // sensors)).strftime("%Y-%m-%dT%H:%M:%SZ")
        values = _reading(rng, states[rng.randrange(len(states))])
        if i in anomalous:
            for feature in rng.sample(range(len(FEATURES)), 2):
                values[feature] += rng.choice((-1, 1)) * rng.uniform(7.0, 9.0) * SPREAD[feature]
            found.append((sensor, when))
        out.append([sensor, when, *(f"{v:.4f}" for v in values)])
    for j in range(null_rows):
        row = list(out[1 + rng.randrange(rows)])
        row[0] = f"sensor-null-{j}"  # a reading of its own, with one measurement missing
        row[2 + rng.randrange(len(FEATURES))] = ""
        out.append(row)
    for _ in range(duplicate_rows):
        out.append(list(out[1 + rng.randrange(rows)]))
    return Sample(out, found, rows, null_rows, duplicate_rows)


def write_csv(path: str, sample: Sample) -> None:
    """Write the rows as a CSV file (header first)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(sample.rows)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="sample_data.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--output", required=True, help="CSV file to write")
    p.add_argument("--rows", type=int, default=3000, help="distinct readings")
    p.add_argument("--anomalies", type=int, default=20, help="how many of them are anomalous")
    p.add_argument("--random-state", type=int, default=7, help="same value, same file")
    p.add_argument("--null-rows", type=int, default=0, help="extra rows with an empty measurement")
    p.add_argument("--duplicate-rows", type=int, default=0, help="extra copies of existing rows")
    args = p.parse_args(argv)
    sample = generate(args.rows, args.anomalies, args.random_state, 12, args.null_rows, args.duplicate_rows)
    write_csv(args.output, sample)
    print(f"wrote {len(sample.rows) - 1} rows ({len(sample.anomalies)} anomalies) to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
