"""Log-group retention given in days, checked against what CloudWatch Logs accepts."""

from __future__ import annotations

from aws_cdk import Token
from aws_cdk import aws_logs as logs

from emr_patterns.errors import problem

__all__ = ["retention_days"]

#: Days -> the RetentionDays member CloudWatch Logs accepts for it.
_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def retention_days(prop: str, days: int, problems: list[str]) -> logs.RetentionDays:
    """The ``RetentionDays`` for ``days``; appends a problem naming ``prop`` when there is none.

    Never-expiring log groups are not offered: the nag packs require a retention period.
    """
    found = _BY_DAYS.get(days) if isinstance(days, int) and not Token.is_unresolved(days) else None
    if found is None:
        problems.append(
            problem(
                prop, days, "is not a retention CloudWatch Logs accepts", f"use one of {sorted(_BY_DAYS)}"
            )
        )
        return logs.RetentionDays.ONE_YEAR
    return found
