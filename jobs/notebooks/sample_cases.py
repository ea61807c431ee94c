"""Synthetic daily case counts per US state, for the notebook tests and the documentation.

One row per state and day: ``date`` (yyyy-mm-dd), ``state``, ``confirmed`` and ``deaths``, both
cumulative (running totals, never decreasing), like the public daily state-level case files.
Each state grows at its own steady daily rate, with a small day-to-day wobble, so the ranking on
any day and each state's growth are known in advance. The same arguments always give the same
file. Standard library only, Python 3.9::

    python sample_cases.py --output cases.csv --start 2021-01-01 --days 90
"""

import argparse
import csv
import datetime
import math
import random
import sys
from typing import Dict, List, Optional, Sequence, Tuple

HEADER = ("date", "state", "confirmed", "deaths")

#: State -> (confirmed on the first day, daily growth rate, share of cases that are fatal).
STATES: Dict[str, Tuple[int, float, float]] = {
    "California": (2_000_000, 0.012, 0.014),
    "Texas": (1_600_000, 0.014, 0.016),
    "Florida": (1_200_000, 0.013, 0.015),
    "New York": (1_000_000, 0.011, 0.028),
    "Illinois": (900_000, 0.009, 0.018),
    "Georgia": (600_000, 0.015, 0.017),
    "Ohio": (650_000, 0.010, 0.013),
    "Arizona": (500_000, 0.016, 0.017),
    "Washington": (250_000, 0.012, 0.013),
    "Vermont": (8_000, 0.010, 0.012),
}
START = datetime.date(2021, 1, 1)


def generate(
    start: datetime.date = START, days: int = 90, random_state: int = 11, skip: Sequence[Tuple[str, str]] = ()
) -> List[List[str]]:
    """Rows (header first) for every state and day from ``start``; ``skip`` leaves out
    (state, yyyy-mm-dd) pairs, to make gaps."""
    rng = random.Random(random_state)
    left_out = set(skip)
    rows: List[List[str]] = [list(HEADER)]
    totals = {state: (0, 0) for state in STATES}
    for day in range(days):
        date = (start + datetime.timedelta(days=day)).isoformat()
        for state in sorted(STATES):
            base, rate, fatal = STATES[state]
            wobble = 1.0 + rng.uniform(-0.002, 0.002)
            confirmed = max(totals[state][0], int(base * math.exp(rate * day) * wobble))
            deaths = max(totals[state][1], int(confirmed * fatal))
            totals[state] = (confirmed, deaths)
            if (state, date) not in left_out:
                rows.append([date, state, str(confirmed), str(deaths)])
    return rows


def write_csv(path: str, rows: List[List[str]]) -> None:
    """Write the rows as a CSV file (header first)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="sample_cases.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--output", required=True, help="CSV file to write")
    p.add_argument("--start", default=START.isoformat(), help="first day, yyyy-mm-dd")
    p.add_argument("--days", type=int, default=90, help="how many days")
    p.add_argument("--random-state", type=int, default=11, help="same value, same file")
    args = p.parse_args(argv)
    rows = generate(datetime.date.fromisoformat(args.start), args.days, args.random_state)
    write_csv(args.output, rows)
    print(f"wrote {len(rows) - 1} rows to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
