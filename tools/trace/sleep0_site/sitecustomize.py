"""Imported by every Python process started with this folder on PYTHONPATH (tools/trace/sleep0.py
starts one gunicorn so): time.sleep(0) returns at once, nonzero sleeps are unchanged."""

import time

_sleep = time.sleep


def _sleep_unless_zero(seconds: float) -> None:
    if seconds > 0:
        _sleep(seconds)


time.sleep = _sleep_unless_zero
