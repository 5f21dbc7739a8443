"""Limits every grid's values are checked against before anything is simulated or measured,
and the parsing of the comma lists they come in.

One definition for `asim predict`, `asim timeline`, `asim explore` and the scenario files of
`asim validate`, so that a value one command accepts is not refused by another after minutes of
work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from asim.errors import InputError

# Under gunicorn's 30 s worker timeout and ab's 30 s poll timeout (ab -s): a longer sleep is
# no longer a server under load but a server that ab and gunicorn give up on.
MAX_SLEEP_S = 25.0
# `asim calibrate --rounds`: interleaved rounds of the first stage's runs (asim.calibration.fit);
# two at least, since a run's spread needs two, and at most ~4 minutes of them.
CALIBRATION_ROUNDS, MAX_CALIBRATION_ROUNDS = 6, 50


def check_sleeps(sleeps_s: Sequence[float], *, option: str = "--sleep") -> list[float]:
    """``sleeps_s`` if every one is a sleep the lab's servers and ab can run; otherwise an
    `InputError` naming the first bad value (numbers shown short: ``1e+300``, not 301 digits)."""
    for sleep_s in sleeps_s:
        if not (math.isfinite(sleep_s) and 0 <= sleep_s <= MAX_SLEEP_S):
            raise InputError(
                f"{option} {sleep_s:g}: sleep must be between 0 and {MAX_SLEEP_S:g} s (ab gives "
                "up on a server silent for 30 s, gunicorn kills a worker busy for 30 s)"
            )
    return list(sleeps_s)


def parse_numbers(option: str, text: str, kind: type, *, single: bool = False) -> list:
    """``text``, a comma list of numbers of ``kind`` given for ``option`` (``single``: exactly
    one), parsed; an `InputError` naming the option and the bad part otherwise."""
    items = [part.strip() for part in str(text).split(",")]
    if not str(text).strip() or any(not part for part in items):
        what = "value" if single else "list"
        raise InputError(f"{option}: malformed {what} {text!r} (expected e.g. "
                         f"{'10' if single else '5,10,20'})")
    if single and len(items) != 1:
        raise InputError(f"{option}: one value, not a list ({text!r})")
    values = []
    for part in items:
        try:
            values.append(kind(part))
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise InputError(f"{option}: {part!r} is not {noun}") from None
    return values
