"""MVA, load-dependent MVA, asymptotic bounds and lockstep against independent answers.

Every reference here is computed a different way from the code under test: by hand (fractions),
from a published table, from a birth–death chain, from the product form enumerated state by
state, or from a deterministic event loop written in the test.
"""

from __future__ import annotations

import heapq
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asim.errors import InputError
from asim.sim.bounds import asymptotic_bounds, lockstep
from asim.sim.costs import DEFAULT_COSTS, Costs
from asim.sim.mva import Network, Station, flow_equivalent_station, solve_mva
from asim.sim.networks import worker_hold_s, workers_station
from asim.sim.spec import Scenario
from asim.sim.theory import (
    METHODS,
    ab_terms,
    bounds_point,
    mva_point,
    scenario_network,
    theory_curve,
    workers_lockstep,
)

# Tolerances, named so each assertion says what kind of agreement it expects.
EXACT_REL = 1e-9  # two exact methods in double precision
PUBLISHED_ABS = 1.5e-3  # published tables round to three decimals
LARGE_N_REL = 1e-7  # exact methods at N in the thousands (sums of thousands of terms)
BOUND_SLACK = 1e-9  # MVA may touch a bound; it may not cross it by more than float noise


def queue(name: str, d: float) -> Station:
    return Station.queue(name, d)


# --- single-class MVA, load independent ---------------------------------------------------------


def _hand_mva(demands: list[Fraction], delays: list[Fraction], n_max: int) -> list[Fraction]:
    """Textbook MVA in exact fractions: queue stations then delay stations, Z = 0."""
    q = [Fraction(0)] * len(demands)
    xs = []
    for n in range(1, n_max + 1):
        r = [d * (1 + qk) for d, qk in zip(demands, q, strict=True)]
        x = Fraction(n) / (sum(r) + sum(delays))
        q = [x * rk for rk in r]
        xs.append(x)
    return xs


@pytest.mark.parametrize(
    ("stations", "expected_x"),
    [
        # Two queues, D = 1 and 2 s. Worked by hand:
        # n=1: R = 1 + 2 = 3, X = 1/3, Q = (1/3, 2/3)
        # n=2: R1 = 4/3, R2 = 10/3, X = 2 / (14/3) = 3/7, Q = (4/7, 10/7)
        # n=3: R1 = 11/7, R2 = 34/7, X = 3 / (45/7) = 7/15
        ((queue("a", 1.0), queue("b", 2.0)), [Fraction(1, 3), Fraction(3, 7), Fraction(7, 15)]),
        # A queue (D = 1 s) and a delay (2 s):
        # n=1: R = 3, X = 1/3, Q1 = 1/3; n=2: R1 = 4/3, X = 2 / (10/3) = 3/5, Q1 = 4/5;
        # n=3: R1 = 9/5, X = 3 / (19/5) = 15/19
        (
            (queue("a", 1.0), Station.delay("z", 2.0)),
            [Fraction(1, 3), Fraction(3, 5), Fraction(15, 19)],
        ),
    ],
)
def test_mva_matches_small_networks_by_hand(stations, expected_x):
    result = solve_mva(Network(stations=stations), 3)
    for n, x in enumerate(expected_x, start=1):
        assert result.throughput_rps[n] == pytest.approx(float(x), rel=EXACT_REL)
        assert result.response_time_s[n] == pytest.approx(n / float(x), rel=EXACT_REL)


def test_hand_mva_helper_agrees_with_the_worked_fractions():
    assert _hand_mva([Fraction(1), Fraction(2)], [], 3) == [
        Fraction(1, 3),
        Fraction(3, 7),
        Fraction(7, 15),
    ]


@pytest.mark.parametrize("n_max", [1, 2, 5, 12])
def test_mva_matches_exact_fraction_mva(n_max):
    demands = [Fraction(3, 10), Fraction(7, 10), Fraction(1, 20)]
    delays = [Fraction(5, 4)]
    network = Network(
        stations=(
            *(queue(f"q{i}", float(d)) for i, d in enumerate(demands)),
            Station.delay("think-like", float(delays[0])),
        )
    )
    result = solve_mva(network, n_max)
    for n, x in enumerate(_hand_mva(demands, delays, n_max), start=1):
        assert result.throughput_rps[n] == pytest.approx(float(x), rel=EXACT_REL)


def test_mva_matches_jain_example_35_5():
    """R. Jain, *The Art of Computer Systems Performance Analysis* (Wiley, 1991), Example 35.5.

    Timesharing system: think time Z = 4.68 s, CPU D = 0.78 s, disk A D = 2.34 s, disk B
    D = 1.56 s, N = 3 users. Published: X = 0.264 jobs/s, R = 6.694 s, U_CPU = 0.206,
    U_A = 0.618, U_B = 0.412, mean jobs at disk A = 0.97 (the book uses X rounded to 0.264 for
    the utilisations, hence 0.618 against 0.2638 × 2.34 = 0.6172).
    """
    network = Network(
        stations=(queue("cpu", 0.78), queue("disk-a", 2.34), queue("disk-b", 1.56)),
        think_time_s=4.68,
    )
    r = solve_mva(network, 3)
    assert r.throughput_rps[3] == pytest.approx(0.264, abs=PUBLISHED_ABS)
    assert r.response_time_s[3] == pytest.approx(6.694, abs=PUBLISHED_ABS)
    for name, published in [("cpu", 0.206), ("disk-a", 0.618), ("disk-b", 0.412)]:
        assert r.station_utilisation[r.index(name), 3] == pytest.approx(published, abs=1e-3)
    assert r.station_queue[r.index("disk-a"), 3] == pytest.approx(0.97, abs=0.005)
    # The interactive response-time law N = X (R + Z), as the book checks it.
    assert r.throughput_rps[3] * (r.response_time_s[3] + 4.68) == pytest.approx(3, rel=EXACT_REL)


# --- load-dependent MVA -------------------------------------------------------------------------


def machine_repairman_throughput(clients: int, servers: int, demand_s: float, think_s: float):
    """M/M/m//N by its birth–death chain: j requests at the m servers, N − j thinking.

    Birth rate (N − j)/Z, death rate min(j, m)/D; probabilities in logs so N = 20000 works.
    """
    j = np.arange(1, clients + 1)
    log_ratio = np.log((clients - j + 1) / think_s) - np.log(np.minimum(j, servers) / demand_s)
    log_p = np.concatenate([[0.0], np.cumsum(log_ratio)])
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    busy = np.minimum(np.arange(clients + 1), servers)
    return float((p * busy).sum() / demand_s)


@pytest.mark.parametrize(
    ("clients", "servers", "demand_s", "think_s"),
    [
        (1, 3, 1.0, 1.0),
        (5, 2, 1.0, 1.0),
        (10, 10, 0.2, 0.5),
        (50, 10, 1.0, 3.0),
        (300, 7, 0.1, 2.0),
        (2000, 100, 1.0, 10.0),
        (20000, 1000, 0.1, 0.5),
        (20000, 1, 0.001, 5.0),
    ],
)
def test_multi_server_matches_machine_repairman(clients, servers, demand_s, think_s):
    network = Network(
        stations=(Station.multi_server("s", demand_s, servers),), think_time_s=think_s
    )
    x = solve_mva(network, clients).throughput_rps[clients]
    expected = machine_repairman_throughput(clients, servers, demand_s, think_s)
    assert x == pytest.approx(expected, rel=LARGE_N_REL)


def product_form(network: Network, clients: int) -> tuple[float, list[float]]:
    """X(N) and mean jobs per station by enumerating every state of the product form."""
    factors = []
    for s in network.stations:
        f = [1.0]
        for j in range(1, clients + 1):
            rate = j if s.is_delay else s.rate(j)
            f.append(f[-1] * s.demand_s / rate)
        factors.append(f)
    if network.think_time_s > 0:
        f = [1.0]
        for j in range(1, clients + 1):
            f.append(f[-1] * network.think_time_s / j)
        factors.append(f)

    def g(n: int) -> tuple[float, list[float]]:
        total, mean = 0.0, [0.0] * len(factors)
        for cut in itertools.combinations(range(n + len(factors) - 1), len(factors) - 1):
            bounds = (-1, *cut, n + len(factors) - 1)
            state = [bounds[i + 1] - bounds[i] - 1 for i in range(len(factors))]
            w = math.prod(f[k] for f, k in zip(factors, state, strict=True))
            total += w
            mean = [m + w * k for m, k in zip(mean, state, strict=True)]
        return total, [m / total for m in mean]

    g_n, mean = g(clients)
    g_prev, _ = g(clients - 1)
    return g_prev / g_n, mean[: len(network.stations)]


MIXED_NETWORKS = [
    Network(stations=(Station.multi_server("m", 1.0, 3), queue("q", 0.4))),
    Network(
        stations=(Station.multi_server("m", 1.0, 2), queue("q", 0.4), Station.delay("d", 0.7)),
        think_time_s=0.3,
    ),
    Network(
        stations=(
            Station.load_dependent("ld", 0.8, [1.0, 1.5, 1.8]),
            Station.multi_server("m", 0.5, 4),
            queue("q", 0.2),
        )
    ),
    Network(
        stations=(
            Station.load_dependent("ld1", 1.0, [1.0, 1.2]),
            Station.load_dependent("ld2", 0.6, [0.5, 1.0, 1.5]),
        ),
        think_time_s=1.0,
    ),
]


@pytest.mark.parametrize("network", MIXED_NETWORKS)
@pytest.mark.parametrize("clients", [1, 2, 4, 7])
def test_load_dependent_mva_matches_enumerated_product_form(network, clients):
    result = solve_mva(network, clients)
    x, mean = product_form(network, clients)
    assert result.throughput_rps[clients] == pytest.approx(x, rel=EXACT_REL)
    for k, m in enumerate(mean):
        assert result.station_queue[k, clients] == pytest.approx(m, rel=EXACT_REL, abs=1e-12)


def test_flow_equivalent_server_is_exact_without_a_population_limit():
    """Norton's theorem: replacing a product-form subnetwork by its FES changes nothing."""
    inner = Network(stations=(Station.multi_server("cores", 0.3, 2), Station.delay("io", 1.0)))
    outer_queue = queue("client", 0.2)
    clients = 30
    flat = solve_mva(Network(stations=(*inner.stations, outer_queue)), clients)
    fes = flow_equivalent_station("sub", inner, clients)
    folded = solve_mva(Network(stations=(fes, outer_queue)), clients)
    np.testing.assert_allclose(folded.throughput_rps[1:], flat.throughput_rps[1:], rtol=EXACT_REL)


def test_flow_equivalent_server_with_enough_cores_is_a_multi_server():
    workers, cpu_s, io_s = 6, 0.002, 0.1
    inner = Network(
        stations=(Station.multi_server("cores", cpu_s, workers), Station.delay("io", io_s))
    )
    fes = flow_equivalent_station("w", inner, workers)
    plain = Station.multi_server("w", cpu_s + io_s, workers)
    for n in (1, 3, 6, 40):
        a = solve_mva(Network(stations=(fes, queue("ab", 1e-4))), n).throughput_rps[n]
        b = solve_mva(Network(stations=(plain, queue("ab", 1e-4))), n).throughput_rps[n]
        assert a == pytest.approx(b, rel=EXACT_REL)


def worker_pool_ctmc(clients, workers, cores, cpu_s, sleep_s, ab_s):
    """Exact throughput of W workers (CPU on K cores, then a sleep) behind ab, by a Markov chain.

    State (a, c, s): requests at ab, workers on the CPU, workers sleeping; the rest wait in the
    accept queue and take a worker the moment one frees. All times exponential.
    """
    states = [
        (a, c, s)
        for a in range(clients + 1)
        for c in range(min(workers, clients) + 1)
        for s in range(min(workers, clients) + 1)
        if a + c + s <= clients and c + s <= workers and (a + c + s == clients or c + s == workers)
    ]
    index = {state: i for i, state in enumerate(states)}

    def admit(a, c, s):
        return (a, c + min(clients - a - c - s, workers - c - s), s)

    q = np.zeros((len(states), len(states)))
    for (a, c, s), i in index.items():
        moves = []
        if a:
            moves.append((1 / ab_s, admit(a - 1, c, s)))
        if c:
            moves.append((min(c, cores) / cpu_s, (a, c - 1, s + 1)))
        if s:
            moves.append((s / sleep_s, admit(a + 1, c, s - 1)))
        for rate, target in moves:
            q[i, index[target]] += rate
            q[i, i] -= rate
    lhs = np.vstack([q.T, np.ones(len(states))])
    rhs = np.zeros(len(states) + 1)
    rhs[-1] = 1.0
    p = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    return sum(p[i] * s / sleep_s for (_, _, s), i in index.items())


FES_REL = 0.02  # the flow-equivalent server ignores that a waiting request holds no worker


@pytest.mark.parametrize(
    ("workers", "cores", "cpu_s", "sleep_s", "ab_s"),
    [
        (4, 2, 0.05, 0.1, 0.02),
        (4, 1, 0.05, 0.1, 0.01),
        (8, 2, 0.02, 0.1, 0.005),
        (3, 2, 0.1, 0.1, 0.05),
    ],
)
@pytest.mark.parametrize("clients", [1, 2, 4, 8, 12])
def test_flow_equivalent_workers_against_the_markov_chain(
    workers, cores, cpu_s, sleep_s, ab_s, clients
):
    inner = Network(
        stations=(Station.multi_server("cores", cpu_s, cores), Station.delay("sleep", sleep_s))
    )
    fes = flow_equivalent_station("workers", inner, workers)
    x = solve_mva(Network(stations=(fes, queue("ab", ab_s))), clients).throughput_rps[clients]
    exact = worker_pool_ctmc(clients, workers, cores, cpu_s, sleep_s, ab_s)
    if clients <= workers:  # the limit never binds: FES is exact
        assert x == pytest.approx(exact, rel=EXACT_REL)
    else:
        assert x == pytest.approx(exact, rel=FES_REL)


# --- numerical stability ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "station",
    [
        Station.multi_server("m", 0.1, 1),
        Station.multi_server("m", 0.1, 8),
        Station.multi_server("m", 0.1, 1024),
        Station.load_dependent("ld", 0.1, [1.0, 1.9, 2.6, 3.0]),
    ],
    ids=["m=1", "m=8", "m=1024", "ld"],
)
@pytest.mark.parametrize("think_s", [0.0, 2.0])
def test_large_populations_stay_finite_monotone_and_bounded(station, think_s):
    clients = 20000
    network = Network(
        stations=(station, queue("ab", 1e-4), Station.delay("sleep", 0.1)), think_time_s=think_s
    )
    r = solve_mva(network, clients)
    x = r.throughput_rps[1:]
    rt = r.response_time_s[1:]
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(rt))
    assert np.all(r.station_queue >= 0)
    assert np.all(np.diff(x) >= -BOUND_SLACK * x[1:])
    assert np.all(np.diff(rt) >= -BOUND_SLACK * rt[1:])
    b = asymptotic_bounds(network)
    ns = np.arange(1, clients + 1)
    assert np.all(x <= np.minimum(ns / (b.demand_s + think_s), b.max_throughput_rps) * (1 + 1e-9))
    assert np.all(rt >= np.maximum(b.demand_s, ns * b.bottleneck_demand_s - think_s) * (1 - 1e-9))
    if clients > 4 * b.knee_clients:  # far past the knee the bottleneck is saturated
        assert x[-1] == pytest.approx(b.max_throughput_rps, rel=1e-6)
    assert np.all(r.station_queue[:, -1].sum() + x[-1] * think_s == pytest.approx(clients))


# --- asymptotic bounds --------------------------------------------------------------------------

station_strategy = st.one_of(
    st.builds(Station.queue, st.just("q"), st.floats(0.001, 2.0)),
    st.builds(Station.delay, st.just("d"), st.floats(0.001, 2.0)),
    st.builds(Station.multi_server, st.just("m"), st.floats(0.001, 2.0), st.integers(1, 6)),
    st.builds(
        Station.load_dependent,
        st.just("ld"),
        st.floats(0.001, 2.0),
        # alpha(1) = 1, then each extra customer adds between 0 and 1 unit of rate, never more
        # than the one before (a concave alpha, like min(j, m)): with a convex one the speed per
        # customer rises with the queue and the response time may fall as clients are added.
        st.lists(st.floats(0.0, 1.0), max_size=4).map(
            lambda steps: list(itertools.accumulate(sorted(steps, reverse=True), initial=1.0))
        ),
    ),
)


def _named(stations: list[Station]) -> tuple[Station, ...]:
    return tuple(
        Station(name=f"{s.name}{i}", demand_s=s.demand_s, kind=s.kind, rates=s.rates)
        for i, s in enumerate(stations)
    )


@settings(max_examples=80, deadline=None)
@given(
    stations=st.lists(station_strategy, min_size=1, max_size=4),
    think_s=st.floats(0.0, 5.0),
    clients=st.integers(1, 60),
)
def test_bounds_bracket_mva_and_mva_is_monotone(stations, think_s, clients):
    network = Network(stations=_named(stations), think_time_s=think_s)
    r = solve_mva(network, clients)
    b = asymptotic_bounds(network)
    for n in range(1, clients + 1):
        x, rt = r.throughput_rps[n], r.response_time_s[n]
        assert x <= b.throughput_upper_rps(n) * (1 + BOUND_SLACK)
        assert rt >= b.response_time_lower_s(n) * (1 - BOUND_SLACK)
        # Little's law over the whole loop and the utilisation law.
        assert x * (rt + think_s) == pytest.approx(n, rel=1e-9)
        assert np.all(
            r.station_utilisation[:, n][[not s.is_delay for s in network.stations]]
            <= 1 + BOUND_SLACK
        )
    x = r.throughput_rps[1:]
    assert np.all(np.diff(x) >= -BOUND_SLACK * x[1:])
    assert np.all(np.diff(r.response_time_s[1:]) >= -BOUND_SLACK * r.response_time_s[2:])


@pytest.mark.parametrize(
    ("stations", "think_s", "demand_s", "d_max", "knee"),
    [
        ((queue("a", 0.2), queue("b", 0.5)), 0.0, 0.7, 0.5, 1.4),
        ((queue("a", 0.2), Station.multi_server("w", 1.0, 4)), 1.0, 1.2, 0.25, 8.8),
        ((Station.delay("sleep", 0.1), queue("cpu", 0.001)), 0.0, 0.101, 0.001, 101.0),
    ],
)
def test_bounds_closed_forms(stations, think_s, demand_s, d_max, knee):
    b = asymptotic_bounds(Network(stations=stations, think_time_s=think_s))
    assert b.demand_s == pytest.approx(demand_s)
    assert b.bottleneck_demand_s == pytest.approx(d_max)
    assert b.knee_clients == pytest.approx(knee)
    # At the knee both throughput lines meet.
    assert knee / (demand_s + think_s) == pytest.approx(1 / d_max)


def test_bounds_with_delay_stations_only_have_no_knee():
    b = asymptotic_bounds(Network(stations=(Station.delay("sleep", 0.1),)))
    assert b.bottleneck is None and math.isinf(b.knee_clients)
    assert b.throughput_upper_rps(7) == pytest.approx(70.0)
    r = solve_mva(Network(stations=(Station.delay("sleep", 0.1),)), 7)
    assert r.throughput_rps[7] == pytest.approx(70.0)  # X = N / S with a pure delay


# --- lockstep -----------------------------------------------------------------------------------


def deterministic_fifo(clients: int, workers: int, service_s: float, completions: int):
    """W servers, FIFO, deterministic T, N clients with Z = 0: response times, event by event."""
    busy_until = [0.0] * workers
    heapq.heapify(busy_until)
    waiting = [0.0] * clients  # arrival times of queued requests, FIFO
    times = []
    while len(times) < completions:
        arrival = waiting.pop(0)
        free_at = heapq.heappop(busy_until)
        start = max(free_at, arrival)
        done = start + service_s
        heapq.heappush(busy_until, done)
        times.append(done - arrival)
        waiting.append(done)
        waiting.sort()
    return times


@pytest.mark.parametrize(
    ("clients", "workers"), [(1, 1), (3, 2), (10, 1), (10, 4), (40, 4), (7, 3), (3, 8)]
)
def test_lockstep_matches_a_deterministic_fifo_run(clients, workers):
    service_s = 0.1
    times = deterministic_fifo(clients, workers, service_s, 50 * clients)
    steady = times[10 * clients :]  # drop the start-up waves
    lock = lockstep(clients=clients, workers=workers, service_s=service_s)
    assert set(np.round(steady, 9)) <= {
        round(lock.short_response_s, 9),
        round(lock.long_response_s, 9),
    }
    assert np.mean(steady) == pytest.approx(lock.mean_response_s, rel=0.01)
    long_share = np.mean(np.isclose(steady, lock.long_response_s)) if lock.long_fraction else 0.0
    assert long_share == pytest.approx(lock.long_fraction, abs=0.01)
    assert lock.throughput_rps == pytest.approx(clients / lock.mean_response_s)


def test_lockstep_quantiles_are_steps():
    lock = lockstep(clients=10, workers=4, service_s=0.1)  # 2 of 4 slots take 3 T
    assert lock.long_fraction == 0.5
    assert lock.quantile_s(0.25) == pytest.approx(0.2)
    assert lock.quantile_s(0.75) == pytest.approx(0.3)
    assert lock.mean_response_s == pytest.approx(0.25)


# --- asim's scenarios ---------------------------------------------------------------------------


def scenario(**kw) -> Scenario:
    kw.setdefault("requests", max(100, kw.get("concurrency", 10)))
    return Scenario(**kw)


def test_aiohttp_network_is_cpu_queues_and_a_wait():
    c = DEFAULT_COSTS
    net = scenario_network(scenario(server="aiohttp", sleep_s=0.1), c)
    assert net.station("loop").demand_s == pytest.approx(c.loop_cpu_s)
    assert net.station("ab").demand_s == pytest.approx(c.ab_cpu_s)
    assert net.station("wait").is_delay
    assert net.station("wait").demand_s == pytest.approx(
        0.1 + c.asyncio_sleep_overshoot_s + c.loop_light_load_extra_s + c.ab_cold_cpu_s
    )
    one_core = scenario_network(scenario(server="aiohttp", cores=1), c)
    assert one_core.station("cpu").demand_s == pytest.approx(c.loop_cpu_s + c.ab_cpu_s)


@pytest.mark.parametrize("concurrency", [1, 10, 40, 400])
def test_aiohttp_scales_until_the_loop_saturates(concurrency):
    s = scenario(server="aiohttp", sleep_s=0.1, concurrency=concurrency)
    p, b = mva_point(s, DEFAULT_COSTS), bounds_point(s, DEFAULT_COSTS)
    assert p.throughput_rps <= b.throughput_upper_rps * (1 + BOUND_SLACK)
    assert p.response_time_ms >= b.response_time_lower_ms * (1 - BOUND_SLACK)
    assert b.bottleneck == "loop"
    if concurrency < b.knee_clients / 4:  # well below the knee the sleep dominates
        assert p.throughput_rps == pytest.approx(concurrency / 0.1, rel=0.02)


@pytest.mark.parametrize("server", ["aiohttp-blocking", "django"])
@pytest.mark.parametrize("sleep_s", [0.01, 0.1, 0.5])
def test_one_server_flattens_at_one_over_sleep(server, sleep_s):
    # It flattens at one over the time a request holds the one server: the sleep plus its CPU.
    s = scenario(server=server, sleep_s=sleep_s, concurrency=40, workers=1)
    p, b = mva_point(s, DEFAULT_COSTS), bounds_point(s, DEFAULT_COSTS)
    assert p.throughput_rps < 1 / sleep_s
    assert p.throughput_rps == pytest.approx(1000 / b.bottleneck_demand_ms, rel=0.01)
    assert p.bottleneck_utilisation == pytest.approx(1.0, abs=1e-6)
    assert p.response_time_ms == pytest.approx(40 * b.bottleneck_demand_ms, rel=0.02)


@pytest.mark.parametrize("workers", [1, 2, 4, 8])
def test_django_throughput_grows_with_workers_up_to_w_over_s(workers):
    s = scenario(server="django", sleep_s=0.1, concurrency=40, workers=workers, cores=2)
    p = mva_point(s, DEFAULT_COSTS)
    assert p.throughput_rps < workers / 0.1
    assert p.throughput_rps == pytest.approx(workers / 0.1, rel=0.05)


def test_django_fewer_cores_than_workers_uses_a_flow_equivalent_server():
    costs = Costs(worker_request_cpu_s=0.01, worker_response_cpu_s=0.0, worker_close_cpu_s=0.0)
    many = workers_station(scenario(server="django", workers=8, cores=8, sleep_s=0.0), costs)
    few = workers_station(scenario(server="django", workers=8, cores=2, sleep_s=0.0), costs)
    assert many.rates == tuple(float(j) for j in range(1, 9))
    # CPU-bound: eight workers on two cores complete at most 2 / cpu requests per second.
    assert few.demand_s / max(few.rates) >= costs.worker_cpu_s / 2 * (1 - BOUND_SLACK)
    s = scenario(server="django", workers=8, cores=2, sleep_s=0.0, concurrency=50)
    assert mva_point(s, costs).throughput_rps <= 2 / costs.worker_cpu_s


def test_workers_station_equal_cores_matches_one_core_short():
    """At K = W the plain multi-server is used; at K = W - 1 the FES, which must be close."""
    c = DEFAULT_COSTS
    a = mva_point(scenario(server="django", workers=3, cores=3, concurrency=30), c)
    b = mva_point(scenario(server="django", workers=3, cores=2, concurrency=30), c)
    assert b.throughput_rps <= a.throughput_rps
    assert b.throughput_rps == pytest.approx(a.throughput_rps, rel=0.01)


@pytest.mark.parametrize(("concurrency", "workers"), [(10, 1), (40, 4), (30, 8)])
def test_django_lockstep_mean_meets_mva_when_the_workers_saturate(concurrency, workers):
    s = scenario(server="django", sleep_s=0.1, concurrency=concurrency, workers=workers, cores=8)
    lock = workers_lockstep(s, DEFAULT_COSTS)
    assert lock.service_s == pytest.approx(worker_hold_s(s, DEFAULT_COSTS))
    assert lock.mean_response_s == pytest.approx(concurrency * lock.service_s / workers)
    # Past the knee both are N / (W / T) up to ab's share of the loop.
    mva = mva_point(s, DEFAULT_COSTS)
    assert mva.response_time_ms / 1000 == pytest.approx(lock.mean_response_s, rel=0.01)


def test_lockstep_needs_workers():
    with pytest.raises(InputError, match="lockstep needs worker processes"):
        workers_lockstep(scenario(server="aiohttp"), DEFAULT_COSTS)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "s",
    [
        scenario(server="aiohttp", sleep_s=0.1, concurrency=10, requests=1000),
        scenario(server="aiohttp-blocking", sleep_s=0.1, concurrency=40),
        scenario(server="django", sleep_s=0.1, concurrency=10, workers=2),
    ],
    ids=lambda s: s.label(),
)
def test_ab_terms_follow_abs_formulas(method, s):
    t = ab_terms(s, DEFAULT_COSTS, method=method)
    assert t.is_bound == (method == "bounds")
    assert t.time_per_request_ms == pytest.approx(s.concurrency * t.time_per_request_all_ms)
    assert t.time_per_request_all_ms == pytest.approx(1000 / t.requests_per_second)
    assert t.time_taken_s == pytest.approx(s.requests / t.requests_per_second)
    mva = ab_terms(s, DEFAULT_COSTS, method="mva")
    assert t.requests_per_second >= mva.requests_per_second * (1 - BOUND_SLACK)


def test_ab_terms_reject_an_unknown_method():
    with pytest.raises(InputError, match="unknown method 'des'"):
        ab_terms(scenario(server="aiohttp"), DEFAULT_COSTS, method="des")


def test_theory_curve_brackets_and_has_the_knee():
    s = scenario(server="aiohttp", sleep_s=0.01)
    curve = theory_curve(s, DEFAULT_COSTS, max_clients=200)
    assert curve.clients[0] == 1 and curve.clients[-1] == 200
    for x, ub in zip(curve.throughput_rps, curve.throughput_upper_rps, strict=True):
        assert x <= ub * (1 + BOUND_SLACK)
    assert curve.knee_clients == pytest.approx(bounds_point(s, DEFAULT_COSTS).knee_clients)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Station.queue("q", -1.0), "demand_s must be"),
        (lambda: Station.delay("d", "0.1"), "demand_s must be"),
        (lambda: Station.queue("q", math.nan), "demand_s must be"),
        (lambda: Station.multi_server("m", 1.0, 0), "servers must be"),
        (lambda: Station.load_dependent("ld", 1.0, [1.0, 3.0]), "cannot serve faster"),
        (lambda: Network(stations=()), "at least one station"),
        (lambda: Network(stations=(queue("a", 1.0), queue("a", 2.0))), "unique"),
        (lambda: Network(stations=(Station.delay("d", 0.0),)), "positive demand"),
        (lambda: solve_mva(Network(stations=(queue("a", 1.0),)), 0), "clients must be"),
        (lambda: lockstep(clients=3, workers=0, service_s=0.1), "workers must be"),
    ],
)
def test_bad_input_raises_input_error(build, message):
    with pytest.raises(InputError, match=message):
        build()
