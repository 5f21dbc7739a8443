"""SIGTERM unwinds like Ctrl-C (`asim.lab.procs.sigterm_raises`), also when it lands where Python
ignores exceptions: a finaliser once swallowed it and a validate run went on to the end."""

import os
import signal

import pytest

from asim.lab.procs import sigterm_raises


class _SignalsInAFinaliser:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs inside __del__: swallowed


def test_a_sigterm_raises_at_once():
    with pytest.raises(KeyboardInterrupt), sigterm_raises():
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("the block went on after SIGTERM")


def test_a_swallowed_sigterm_is_raised_when_the_block_ends(capsys):
    finished = False
    with pytest.raises(KeyboardInterrupt, match="signal 15"), sigterm_raises():
        _SignalsInAFinaliser()  # collected at once: its finaliser signals
        finished = True
    assert finished  # the block itself ran on: the signal was swallowed there
    assert "Exception ignored" not in capsys.readouterr().err


def test_outside_the_block_the_handler_is_the_one_before():
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_raises():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
