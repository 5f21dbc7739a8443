"""Small things a new user meets first: --version, help texts, completion, which costs."""

import subprocess
import sys

import pytest

from asim import __version__
from asim.validate.tasks import BUILTIN_TASKS


def asim(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "asim", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_version_option():
    out = asim("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == __version__


def test_validate_help_lists_every_built_in_task():
    out = asim("validate", "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    for task in BUILTIN_TASKS:
        assert task in text


def test_validate_without_a_task_names_every_built_in_task():
    out = asim("validate")
    assert out.returncode == 2
    for task in BUILTIN_TASKS:
        assert task in out.stderr


@pytest.mark.parametrize("command", [[], ["predict"], ["validate"], ["calibrate"], ["serve"],
                                     ["timeline"], ["lecture"]])
def test_flags_show_no_type_in_help(command):
    out = asim(*command, "--help")
    assert out.returncode == 0, out.stderr
    assert "<bool>" not in out.stdout


def test_flags_still_work_after_their_help_changed():
    out = asim("predict", "-c", "2", "-n", "4", "--server", "aiohttp", "--keepalive", "--exact",
               "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].split(",")[6] == "True"


def test_shell_completion_is_offered():
    out = asim("--help")
    assert "--install-completion" in out.stdout and "--show-completion" in out.stdout


def test_timeline_says_which_costs_it_used(tmp_path):
    out = asim("timeline", "--out", str(tmp_path / "t.png"))
    assert out.returncode == 0, out.stderr
    assert "costs: built-in defaults" in out.stdout + out.stderr
