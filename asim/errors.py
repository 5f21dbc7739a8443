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


class PortInUseError(ServerStartError):
    """Another program listens on the port a server was to use (the user's to resolve)."""

    exit_code = 2


class CalibrationError(InputError):
    """A calibration file (or costs given to the model) is missing, unreadable, malformed or
    implausible: the user gave it, so it is bad input (exit 2) like any other file."""


class PredictedAbortError(AsimError):
    """The model predicts that ab itself gives up (poll timeout, connect failures)."""


class SweepError(AsimError):
    """Some scenarios of a sweep failed; each was reported with its scenario."""
