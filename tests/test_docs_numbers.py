"""The numbers docs/theory.md shows are the code's: its table is recomputed here, and the page
names only stations the model has."""

import importlib.util
import re
from pathlib import Path

from asim.sim import theory
from asim.sim.costs import DEFAULT_COSTS
from asim.sim.spec import Scenario
from asim.sim.theory import AbTerms, scenario_network

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "theory.md").read_text(encoding="utf-8")


def docs_tables():
    spec = importlib.util.spec_from_file_location("docs_tables", ROOT / "tools" / "docs_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_default_cost_table_is_what_the_code_computes():
    tables = docs_tables()
    assert tables.page_table(PAGE) == tables.theory_table()


def test_the_quoted_demand_of_ab_is_the_default_costs():
    assert f"≈ {docs_tables().ab_demand_ms()} ms" in PAGE


def test_the_quoted_steady_state_time_is_the_tables():
    table = docs_tables().theory_table()
    (row,) = [line for line in table.splitlines() if "aiohttp S=0.1 c=40 n=100" in line]
    taken_s = row.split("|")[4].strip()
    assert f"steady state says {taken_s} s" in PAGE


def test_every_cost_field_the_page_names_exists():
    # Names like `net_latency_s` once outlived the code here; every *_s name must be a cost,
    # a property of the costs, a field of AbTerms or a function of the theory.
    named = set(re.findall(r"`([a-z_]+_s)`", PAGE))
    assert "ab_cpu_s" in named
    unknown = {n for n in named if not (hasattr(DEFAULT_COSTS, n) or hasattr(theory, n)
                                        or n in AbTerms.__dataclass_fields__)}
    assert not unknown


def test_the_station_names_the_page_gives_are_the_models():
    stations = set()
    for kw in (dict(server="aiohttp", cores=2), dict(server="aiohttp", cores=1),
               dict(server="aiohttp-blocking"), dict(server="django", workers=1, cores=2),
               dict(server="django", workers=4, cores=2)):
        net = scenario_network(Scenario(sleep_s=0.1, concurrency=4, **kw), DEFAULT_COSTS)
        stations |= {s.name for s in net.stations}
    section = PAGE[PAGE.index("| server | stations"):PAGE.index("Choices worth knowing")]
    named = set(re.findall(r"`([a-z ]+)`: (?:queue|delay|W servers|flow)", section))
    assert named == stations, (named, stations)
