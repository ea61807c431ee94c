"""Schedule expressions as EventBridge Scheduler accepts them, checked before deployment.

Pure Python, no CDK. :func:`schedule_expression_problems` returns one problem per mistake in a
``rate(...)``, ``cron(...)`` or ``at(...)`` expression (empty when it is valid), and
:func:`timezone_problems` checks an IANA time-zone name. The rules are those of the EventBridge
cron reference (six fields; ``?`` in exactly one of day-of-month and day-of-week; ``L`` and ``W``
in day-of-month; ``L`` and ``#`` in day-of-week; ``/`` nowhere in day-of-week) and of the
Scheduler user guide (``rate(1 hour)`` singular, ``rate(5 hours)`` plural;
``at(yyyy-mm-ddThh:mm:ss)``).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from emr_patterns._tokens import is_unresolved
from emr_patterns.errors import problem

__all__ = [
    "CRON_FIELDS",
    "SCHEDULER_CONTEXT_ATTRIBUTES",
    "CronField",
    "cron_problems",
    "schedule_expression_problems",
    "timezone_problems",
]

#: Placeholders EventBridge Scheduler fills in a target's input at each invocation.
SCHEDULER_CONTEXT_ATTRIBUTES = (
    "aws.scheduler.schedule-arn",
    "aws.scheduler.scheduled-time",
    "aws.scheduler.execution-id",
    "aws.scheduler.attempt-number",
)
_RATE_UNITS = {"minute": "minutes", "hour": "hours", "day": "days"}
_AT_FORMAT = "%Y-%m-%dT%H:%M:%S"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_EXAMPLES = (
    "rate(1 hour), rate(15 minutes), cron(0 2 * * ? *), cron(0 18 ? * MON-FRI *) or at(2030-01-31T08:00:00)"
)


@dataclass(frozen=True)
class CronField:
    """One of the six fields of a cron expression: its value range, names and wildcards."""

    name: str
    """Field name, as the EventBridge cron reference calls it."""
    low: int
    """Smallest value."""
    high: int
    """Largest value."""
    names: tuple[str, ...] = ()
    """Three-letter names of ``low``, ``low + 1``, ... (months, days of the week)."""
    wildcards: str = ",-*/"
    """The wildcard characters the field allows."""

    def value(self, text: str) -> int | None:
        """``text`` as a number of this field (digits or a name, any case), or None."""
        if text.isdigit() and text.isascii():
            number = int(text)
            return number if self.low <= number <= self.high else None
        upper = text.upper()
        return self.low + self.names.index(upper) if upper in self.names else None


#: Minutes, hours, day-of-month, month, day-of-week and year, in expression order.
CRON_FIELDS = (
    CronField("minutes", 0, 59),
    CronField("hours", 0, 23),
    CronField("day-of-month", 1, 31, wildcards=",-*?/LW"),
    CronField("month", 1, 12, _MONTHS),
    CronField("day-of-week", 1, 7, _DAYS, wildcards=",-*?L#"),
    CronField("year", 1970, 2199),
)
_DAY_OF_MONTH, _DAY_OF_WEEK = CRON_FIELDS[2], CRON_FIELDS[4]


def _range_text(field: CronField) -> str:
    names = f" or {field.names[0]}-{field.names[-1]}" if field.names else ""
    return f"{field.low}-{field.high}{names}"


def _value_issue(field: CronField, text: str) -> str | None:
    if field.value(text) is None:
        return f"{field.name} value {text!r} is not one of {_range_text(field)}"
    return None


def _item_issues(field: CronField, item: str) -> list[str]:
    """Problems of one comma-separated item: ``*``, ``v``, ``a-b``, each optionally ``/step``."""
    if not item:
        return [f"{field.name} has an empty list item (two commas, or a comma at an end)"]
    base, slash, step = item.partition("/")
    issues: list[str] = []
    if slash:
        if "/" not in field.wildcards:
            return [f"{field.name} does not allow '/' increments ({item!r})"]
        span = field.high - field.low
        if not (step.isdigit() and step.isascii()) or not 1 <= int(step) <= span:
            issues.append(f"{field.name} increment {step!r} in {item!r} must be a whole number 1-{span}")
    if base == "*":
        return issues
    start, dash, end = base.partition("-")
    bounds = [start, end] if dash else [start]
    for text in bounds:
        stray = sorted({c for c in text if c in "*?LW#"})
        if field.value(text) is not None:
            continue
        if stray:
            issues.append(
                f"{field.name} item {item!r} uses {''.join(stray)!r}, which cannot be combined "
                "with lists, ranges or increments"
            )
        elif (issue := _value_issue(field, text)) is not None:
            issues.append(issue)
    if dash and not issues:
        first, last = field.value(start), field.value(end)
        if first is not None and last is not None and first > last:
            issues.append(f"{field.name} range {base!r} runs backwards; write the smaller value first")
    return issues


def _day_of_month_special(text: str) -> list[str] | None:
    """Problems of ``L`` or ``nW``, or None when ``text`` is neither."""
    if text == "L":
        return []
    if text.endswith("W"):
        day = text[:-1]
        if _DAY_OF_MONTH.value(day) is None:
            return [f"day-of-month {text!r}: W needs a day 1-31 before it, as in 15W"]
        return []
    return None


def _day_of_week_special(text: str) -> list[str] | None:
    """Problems of ``L``, ``nL`` or ``d#n``, or None when ``text`` is none of them."""
    if "#" in text:
        if "," in text:
            return [f"day-of-week {text!r}: with '#' the field can hold only one expression, such as 3#2"]
        day, _, nth = text.partition("#")
        issues = []
        if _DAY_OF_WEEK.value(day) is None:
            issues.append(f"day-of-week {text!r}: the day before '#' must be 1-7 or SUN-SAT")
        if nth not in {"1", "2", "3", "4", "5"}:
            issues.append(f"day-of-week {text!r}: the number after '#' must be 1-5 (which week of the month)")
        return issues
    if text == "L":
        return []
    if text.endswith("L") and "," not in text and "-" not in text:
        if _DAY_OF_WEEK.value(text[:-1]) is None:
            return [f"day-of-week {text!r}: L needs a day 1-7 or SUN-SAT before it, as in 6L"]
        return []
    return None


def _field_issues(field: CronField, text: str) -> list[str]:
    if text == "?":
        return [] if "?" in field.wildcards else [f"{field.name} does not allow '?'"]
    if field is _DAY_OF_MONTH and (special := _day_of_month_special(text)) is not None:
        return special
    if field is _DAY_OF_WEEK and (special := _day_of_week_special(text)) is not None:
        return special
    return [issue for item in text.split(",") for issue in _item_issues(field, item)]


def cron_problems(fields_text: str) -> list[str]:
    """Problems of the inside of ``cron(...)``: six space-separated fields (empty when valid)."""
    fields = fields_text.split(" ")
    if len(fields) != len(CRON_FIELDS) or any(not f for f in fields):
        return [
            f"cron needs exactly six fields separated by single spaces (minutes hours day-of-month month "
            f"day-of-week year), got {len([f for f in fields if f])}"
        ]
    issues = [
        issue for field, text in zip(CRON_FIELDS, fields, strict=True) for issue in _field_issues(field, text)
    ]
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        issues.append(
            "exactly one of day-of-month and day-of-week must be '?' "
            f"(got {day_of_month!r} and {day_of_week!r}); "
            "for example cron(0 2 * * ? *) or cron(0 2 ? * MON *)"
        )
    return issues


def _rate_issues(inner: str) -> list[str]:
    parts = inner.split(" ")
    if len(parts) != 2:
        return ["rate takes a number and a unit separated by one space, as in rate(5 minutes)"]
    value, unit = parts
    if not (value.isdigit() and value.isascii()) or value != str(int(value)) or int(value) < 1:
        return [f"rate value {value!r} must be a whole number of at least 1, without leading zeros"]
    number = int(value)
    plural = _RATE_UNITS.get(unit)
    singular = next((s for s, p in _RATE_UNITS.items() if p == unit), None)
    if plural is None and singular is None:
        return [f"rate unit {unit!r} must be minute(s), hour(s) or day(s)"]
    if number == 1 and singular is not None:
        return [f"rate of 1 takes the singular unit: rate(1 {singular})"]
    if number > 1 and plural is not None:
        return [f"rate of {number} takes the plural unit: rate({number} {plural})"]
    return []


def _at_issues(inner: str) -> list[str]:
    try:
        parsed = datetime.strptime(inner, _AT_FORMAT)
    except ValueError:
        parsed = None
    if parsed is None or parsed.strftime(_AT_FORMAT) != inner:
        return [f"at() needs a date and time yyyy-mm-ddThh:mm:ss that exists, got {inner!r}"]
    return []


def schedule_expression_problems(expression: object, prop: str = "expression") -> list[str]:
    """Problems of an EventBridge Scheduler expression (``rate``, ``cron`` or ``at``), naming ``prop``.

    An unresolved CDK token is not checked. Returns an empty list when the expression is valid.
    """
    if isinstance(expression, str) and is_unresolved(expression):
        return []
    if not isinstance(expression, str):
        return [problem(prop, expression, "is not a string", f"pass an expression such as {_EXAMPLES}")]
    kind, paren, rest = expression.partition("(")
    if kind not in {"rate", "cron", "at"} or not paren or not rest.endswith(")"):
        return [
            problem(
                prop,
                expression,
                "is not rate(...), cron(...) or at(...) (lowercase, no spaces outside the parentheses)",
                f"write one of {_EXAMPLES}",
            )
        ]
    inner = rest[:-1]
    issues = {"rate": _rate_issues, "cron": cron_problems, "at": _at_issues}[kind](inner)
    return [problem(prop, expression, issue, f"correct it; valid examples: {_EXAMPLES}") for issue in issues]


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problems(timezone: object, prop: str = "timezone") -> list[str]:
    """Problems of an IANA time-zone name such as ``UTC`` or ``Europe/Paris``.

    Checked against the time-zone database Python sees (the system's or the ``tzdata``
    package); when there is none, any non-empty name is accepted. Tokens are not checked.
    """
    if isinstance(timezone, str) and is_unresolved(timezone):
        return []
    fix = "use an IANA time-zone name such as 'UTC', 'Europe/Paris' or 'America/New_York'"
    if not isinstance(timezone, str) or not timezone:
        return [problem(prop, timezone, "is not a time-zone name", fix)]
    known = _known_timezones()
    if known and timezone not in known:
        return [problem(prop, timezone, "is not in the IANA time-zone database", fix)]
    return []
