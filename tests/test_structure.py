"""The layers and the registry: what the code promises about its own structure."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

from asim.errors import InputError
from asim.lab.procs import ServerSpec, server_command
from asim.sim.costs import Costs
from asim.sim.model import simulate
from asim.sim.shapes import NAMES, SHAPES, WORKERS, shape
from asim.sim.spec import Scenario

PACKAGE = Path(__file__).resolve().parents[1] / "asim"


def _imports(path: Path, *, module_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "asim"}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("asim.sim", ("asim.lab", "asim.validate", "asim.lecture", "asim.calibration",
                      "asim.cli", "asim.render", "asim.grid", "asim.servers")),
        ("asim.lecture", ("asim.validate", "asim.cli")),
        ("asim.lab", ("asim.validate", "asim.lecture", "asim.calibration", "asim.cli")),
        ("asim.servers", ("asim.sim", "asim.lab", "asim.validate", "asim.lecture")),
    ],
)
def test_layers_import_inward_only(layer, forbidden):
    offenders = [
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if name == layer or name.startswith(layer + ".")
        for imported in _imports(path, module_level_only=False)
        if imported.startswith(forbidden)
    ]
    assert not offenders, offenders


def test_no_import_cycles_between_modules():
    graph = {
        name: {m for m in _imports(path, module_level_only=True) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in graph[node]:
            if seen.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in seen:
                visit(nxt, [*path, node])
        seen[node] = 2

    for name in graph:
        if name not in seen:
            visit(name, [])


@pytest.mark.parametrize("name", NAMES)
def test_every_shape_simulates_and_has_a_complete_server_command(name):
    s = shape(name)
    workers = 2 if s.takes(WORKERS) else 1
    run = simulate(Scenario(server=name, workers=workers, sleep_s=0.01, concurrency=3,
                            requests=12))
    assert run.report.complete_requests == 12
    argv, env = server_command(ServerSpec(kind=name, sleep_s=0.25, workers=workers), 18080)
    filled = " ".join([*argv, *env.values()])
    assert "{" not in filled and "18080" in filled and "0.25" in filled
    assert set(s.costs) <= {f.name for f in fields(Costs)}


def test_unknown_shape_names_every_known_one():
    with pytest.raises(InputError) as err:
        shape("nginx")
    assert all(name in str(err.value) for name in NAMES)


def test_workers_are_refused_where_a_shape_has_none():
    for name, s in SHAPES.items():
        if s.takes(WORKERS):
            continue
        with pytest.raises(InputError, match="--workers"):
            Scenario(server=name, workers=2)
        with pytest.raises(InputError, match="--workers"):
            ServerSpec(kind=name, sleep_s=0.1, workers=2)
