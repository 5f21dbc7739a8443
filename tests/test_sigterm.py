"""SIGTERM unwinds like Ctrl-C (`asim.lab.procs.sigterm_raises`), also when it lands where Python
ignores exceptions: a finaliser once swallowed it and a validate run went on to the end; and
Ctrl-C swallowed the same way (in logging's at-fork lock release, 2026-12-03) still stops the run
at its next step (`raise_pending_interrupt`)."""

import os
import signal

import pytest

from asim.lab.procs import raise_pending_interrupt, sigterm_raises


class _SignalsInAFinaliser:
    def __init__(self, sig: int = signal.SIGTERM) -> None:
        self.sig = sig

    def __del__(self):
        os.kill(os.getpid(), self.sig)  # the handler runs inside __del__: swallowed


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


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_swallowed_signal_is_raised_at_the_next_step(sig, capsys):
    steps = []
    with pytest.raises(KeyboardInterrupt, match=f"signal {int(sig)}"), sigterm_raises():
        for step in range(3):
            raise_pending_interrupt()
            steps.append(step)
            _SignalsInAFinaliser(sig)  # collected at once: its finaliser signals
    assert steps == [0]  # the second step stopped, not the end of the block
    assert "Exception ignored" not in capsys.readouterr().err


def test_without_a_signal_every_step_runs_and_ctrl_c_is_python_s_again_after():
    with sigterm_raises():
        for _ in range(3):
            raise_pending_interrupt()
    raise_pending_interrupt()  # outside any block: nothing pending
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
