"""Every error asim raises on purpose.

Library code raises these; only ``asim.cli`` turns them into a one-line message and an exit code.
"""


class AsimError(Exception):
    """Base class: a problem the user can act on, described in one line."""

    exit_code = 1


class InputError(AsimError, ValueError):
    """A parameter or a file given by the user is not acceptable."""

    exit_code = 2


class ScenarioError(InputError):
    """A scenario file (TOML) has a missing, unknown or out-of-range field."""


class AbNotFoundError(AsimError):
    """ApacheBench is not installed."""


class AbError(AsimError):
    """ab failed, or its output could not be read."""


class AbParseError(AbError):
    """Text that should be ab's report is not."""


class ServerStartError(AsimError):
    """A server did not become ready; the message carries the end of its log."""


class CalibrationError(AsimError):
    """A calibration file is missing, unreadable or implausible."""


class PredictedAbortError(AsimError):
    """The model predicts that ab itself gives up (poll timeout, connect failures)."""


class SweepError(AsimError):
    """Some scenarios of a sweep failed; each was reported with its scenario."""
