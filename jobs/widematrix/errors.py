"""The one exception type the wide-matrix jobs raise for bad input, and how it crosses the JVM.

An ``InputError`` raised inside a Python worker reaches the driver wrapped in a Py4J/Spark
exception whose text holds the whole worker traceback, ending ``...InputError: <message>``.
``unwrap`` finds that single-line message (or one tagged with ``MARKER``) and raises a clean
``InputError`` again on the driver.
"""

import re
from typing import Optional

MARKER = "WIDEMATRIX-INPUT-ERROR:"
_FIND = re.compile(
    r"(?:" + re.escape(MARKER) + r"|\bInputError:)[ ]?(?!" + re.escape(MARKER) + r")(.*?)(?:\\n|\n|$)"
)


class InputError(ValueError):
    """Bad input: the message names the file and, where known, the row, cell and column."""

    def __init__(self, message: str) -> None:
        super().__init__(MARKER + " " + message.replace("\n", " "))
        self.message = message.replace("\n", " ")

    def __str__(self) -> str:
        return self.message


def unwrap(exc: BaseException) -> Optional[InputError]:
    """Return the ``InputError`` hidden in a Spark/Py4J exception text, if there is one."""
    if isinstance(exc, InputError):
        return exc
    match = _FIND.search(str(exc))
    if match is None:
        return None
    return InputError(match.group(1).strip())
