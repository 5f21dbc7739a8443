"""The lab's servers are modules of asim: importing them must not load asim's model (numpy,
SimPy), whose ~9 MiB would count as the server's own memory (measurements.md section 26.6)."""

import os
import subprocess
import sys

import pytest

MODEL_MODULES = ("numpy", "simpy", "scipy", "asim.grid", "asim.sim.model")


@pytest.mark.parametrize(
    "module", ["asim.servers.aio", "asim.servers.gunicorn_conf", "asim.servers.djlab.asgi"]
)
def test_a_server_module_does_not_import_the_model(module):
    code = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        f"print(','.join(m for m in {MODEL_MODULES!r} if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "asim.servers.djlab.settings"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == ""


def test_the_package_still_exports_the_model_on_first_use():
    import asim

    assert asim.predict is asim.__getattr__("predict")
    assert asim.Scenario(server="aiohttp", sleep_s=0.1).sleep_s == 0.1
    with pytest.raises(AttributeError):
        asim.nothing_of_the_sort  # noqa: B018
