"""report.md: the lab's tables, the error table and conclusions computed from the numbers."""

from validate_helpers import synthetic_report

from asim.validate.compare import PointComparison
from asim.validate.report import conclusions, render_markdown
from asim.validate.study import Plan
from asim.validate.tasks import TASK7, TASK8, TASK9, TASK10, resolve_plan

# The seed's three tasks, the plan these numbers were written for.
PLAN = Plan(name="all", studies=(TASK7, TASK8, TASK9), repeats=1)


def _report(point, in_service):
    """ab -n 100 against a server that serves ``in_service`` requests at a time."""
    taken_ms = 100 * point.sleep_s * 1000 / min(in_service, point.concurrency)
    return synthetic_report(
        concurrency=point.concurrency,
        requests=100,
        request_ms=point.sleep_s * 1000,
        taken_ms=taken_ms,
    )


def _comparisons(in_service_by_server, *, error=1.0):
    result = []
    for p in PLAN.points():
        observed = _report(p, in_service_by_server[p.server])
        predicted = synthetic_report(
            concurrency=p.concurrency, requests=100, taken_ms=observed.time_taken_s * 1000 / error
        )
        result.append(PointComparison(point=p, predicted=predicted, observed=(observed,)))
    return result


LAB = {"aiohttp": 1000, "django": 1, "aiohttp-blocking": 1,
       # task 10's shapes: overlapping (uvicorn), a pool of six, a blocking slice
       "django-asgi": 1000, "django-asgi-sync": 1000, "aiohttp-executor": 6, "aiohttp-mixed": 20}


def _text(found, needle):
    return " ".join(s for c in found if needle in c.question for s in c.sentences)


def test_conclusions_answer_the_five_questions_from_the_numbers():
    found = conclusions(PLAN, _comparisons(LAB))
    questions = [c.question for c in found]
    assert "How aiohttp behaves as the number of concurrent clients grows (task7)" in questions
    assert "How Django, 1 worker behaves as the IO time (sleep) grows (task8)" in questions
    # Django's task-9 points are task 7's: answered once
    assert sum("Django, 1 worker behaves as the number" in q for q in questions) == 1
    assert "in proportion to the clients" in _text(found, "How aiohttp behaves as the number")
    django_c = _text(found, "How Django, 1 worker behaves as the number")
    assert "stays at about 10.0 requests/s" in django_c and "1.0 request(s) in service" in django_c
    assert "all 10 clients are served at once" in _text(found, "How aiohttp behaves as the IO")
    assert "about 1.0 of the 10 clients" in _text(found, "How Django, 1 worker behaves as the IO")
    blocking = _text(found, "blocking sleep behaves")
    assert "×40.0 the 10.0 of the blocking" in blocking
    assert "serves one request at a time" in blocking


def test_different_numbers_give_different_conclusions():
    # an aiohttp that could only serve 2 requests at a time
    found = conclusions(PLAN, _comparisons({**LAB, "aiohttp": 2}))
    aio = _text(found, "How aiohttp behaves as the number")
    assert "in proportion" not in aio and "stays at about 20.0 requests/s" in aio
    assert "about 2.0 of the 10 clients" in _text(found, "How aiohttp behaves as the IO")
    blocking = _text(found, "blocking sleep behaves")
    assert "×2.0" in blocking


def test_markdown_has_tables_figures_errors_and_flags():
    comparisons = _comparisons(LAB, error=1.1)
    bad = comparisons[0]
    comparisons[0] = PointComparison(
        point=bad.point, predicted=bad.predicted, observed=(), failed_runs=1
    )
    figures = {s.name: [f"{s.name}-time.png", f"{s.name}-rps.png"] for s in PLAN.studies}
    md = render_markdown(PLAN, comparisons, figures=figures, meta={"machine": "test"})
    assert md.startswith("# asim validate: all")
    for study in PLAN.studies:
        assert f"## {study.title}" in md
        assert f"![{study.name}: {study.name}-rps.png]({study.name}-rps.png)" in md
    assert "| Requests per second (#/s) | 15 | 10.0 % | 10.0 % |" in md
    assert "## Flagged points" in md and f"`{bad.point.id}`: 1 run(s) without a report" in md
    assert "| aiohttp | 10 | 100.0 | 110.0 | +10.0 % |" in md
    assert "listen backlog" not in md


def test_points_near_the_listen_backlog_are_named_in_the_report():
    comparisons = _comparisons(LAB, error=1.1)
    point_id = comparisons[0].point.id
    md = render_markdown(
        PLAN, comparisons, figures={}, meta={"machine": "test"},
        backlog_edges={point_id: "the model's accept queue reached 129 of 129, no SYN dropped"},
    )
    assert "Near the listen backlog" in md
    assert f"- `{point_id}`: the model's accept queue reached 129 of 129" in md


def test_backlog_edges_come_from_the_simulated_accept_queue():
    from asim.validate.run import backlog_edges, model_runs

    assert backlog_edges(model_runs(resolve_plan("all"))) == {}  # the lab never nears a backlog
    edges = backlog_edges(model_runs(resolve_plan("holdout")))
    assert "aiohttp-s1-c300-n600" in edges and "129" in edges["aiohttp-s1-c300-n600"]


def _task10_comparisons(in_service_by_server, *, measured=True):
    plan = Plan(name="task10", studies=(TASK10,), repeats=1)
    result = []
    for p in plan.points():
        report = _report(p, in_service_by_server[p.server])
        predicted = synthetic_report(concurrency=p.concurrency, requests=100,
                                     taken_ms=report.time_taken_s * 1000 / 1.1)
        result.append(PointComparison(point=p, predicted=predicted,
                                      observed=(report,) if measured else ()))
    return plan, result


def test_task10_conclusions_answer_the_closing_question_with_numbers():
    plan, comparisons = _task10_comparisons(LAB)
    text = _text(conclusions(plan, comparisons), "What Django needs to be fully async")
    # C = 40, sleep 0.1 s: the overlapping shapes 400 requests/s, the sync worker 10 (x40)
    assert "async view under uvicorn (Django ASGI, async view, 1 worker) served 400.0 (model " \
           "440.0) requests/s against the sync gunicorn worker's 10.0 (model 11.0), ×40.0" in text
    assert "so the blocking sleeps of different requests overlap" in text
    assert "levels off from C = 10 on at 60.0 (model 66.0)" in text  # a pool of six
    # the slices: RPS 200 at C = 40; 1 ms holds the loop 20 %, 5 ms all the time
    assert "1 ms per request" in text and "a loss of 50 %" in text
    assert "the slices hold the loop 20 % of the time" in text
    assert "hold the loop's one thread 100 % of the time" in text and "is the bottleneck" in text
    assert "In numbers, the seed's closing question" in text
    assert "×40.0 with an async view, ×40.0 with the unchanged sync view" in text


def test_task10_conclusions_move_with_the_numbers_and_say_what_is_not_measured():
    slower = {**LAB, "django-asgi-sync": 1, "aiohttp-executor": 1000}
    plan, comparisons = _task10_comparisons(slower)
    text = _text(conclusions(plan, comparisons), "What Django needs to be fully async")
    assert "the sync views run one at a time" in text
    assert "its pool did not run out of threads here" in text
    plan, comparisons = _task10_comparisons(LAB, measured=False)
    text = _text(conclusions(plan, comparisons), "What Django needs to be fully async")
    assert "440.0 (model; not measured)" in text
    # the seed's own tasks have none of these shapes: no such conclusion
    assert not _text(conclusions(PLAN, _comparisons(LAB)), "What Django needs")


def test_a_study_of_event_loops_alone_gets_its_own_heading():
    from asim.validate.study import Series, Study

    loops = Study(name="loops", title="loops", x=TASK10.x, sleeps_s=(0.1,),
                  concurrencies=(5, 10, 20, 40),
                  series=(Series(server="aiohttp"), Series(server="aiohttp-mixed",
                                                           blocking_s=0.005)))
    plan = Plan(name="loops", studies=(loops,), repeats=1)
    comparisons = [PointComparison(point=p, predicted=None,
                                   observed=(_report(p, LAB[p.server]),))
                   for p in plan.points()]
    found = conclusions(plan, comparisons)
    text = _text(found, "A blocking call in an event loop, in numbers (loops)")
    assert "5 ms per request" in text and "is the bottleneck" in text
    assert not _text(found, "What Django needs")


def test_a_study_of_many_series_compares_each_with_its_reference_line():
    plan, comparisons = _task10_comparisons(LAB)
    text = _text(conclusions(plan, comparisons), "The servers side by side")
    # task 10's seven series: six comparisons with aiohttp (the first), not all 21 pairs
    assert text.count("aiohttp served") + text.count("have the same throughput") <= 6
    assert "Django, 1 worker served" not in text
    # the seed's tasks (two or three series) still compare every pair
    seed = _text(conclusions(PLAN, _comparisons(LAB)), "The servers side by side")
    assert "Django, 1 worker" in seed
