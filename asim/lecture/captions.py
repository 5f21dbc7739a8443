"""Every word of the lecture figures, in English and in Russian (the lab's own language).

`texts(lang)` gives the axis labels, legend entries and lane names; `caption(lang, figure,
**numbers)` the two caption lines of one figure with its numbers filled in; `number` writes a
number the way the language does (a decimal comma in Russian).

A counted word agrees with its number through `fill`: ``{w:worker/workers}`` in English,
``{w:воркер/воркера/воркеров}`` in Russian (1, 2-4, 5+; a fraction takes the second form). A
rate after a number is written "запр./с" in Russian, which no number can put in the wrong case.
W is the number of workers; the wait before the handler is Wq (queueing theory's W_q).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from types import MappingProxyType

from asim.errors import InputError
from asim.sim.shapes import WORKERS, shape

LANGS: tuple[str, ...] = ("en", "ru")

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "x_clients": "Concurrent clients N (ab -c)",
        "y_rps": "Throughput, requests/s",
        "mva": "MVA (steady state)",
        "bound": "Asymptotic bounds",
        "des": "Simulated ab run",
        "des_n": "Simulated ab -n {n}",
        "title_capacity": "Worker pool vs event loop: bounds and the knee N*",
        "x_time": "Time since ab started, s",
        "y_requests": "Requests",
        "in_system": "In the system (ab start → done)",
        "waiting": "Not yet in the handler",
        "time_average": "Time average L",
        "little": "Little's law: X·R",
        "title_little": "Little's law on one run: L = X·R",
        "title_finite": "ab's short run vs the steady state",
        "x_workers": "gunicorn sync workers W",
        "sleep_line": "sleep {sleep_ms:g} ms",
        "target": "target {rps:g} requests/s",
        "title_workers": "How many workers for a target throughput?",
        "y_latency": "Total time of a request, ms",
        "p50": "p50 (median)",
        "p90": "p90",
        "p100": "p100 (max)",
        "title_percentiles": "Latency percentiles as clients grow (ab -n {n})",
        "title_timelines": "Timelines of the three servers",
        "title_timeline": "{server}: ab -n {n} -c {c}, sleep {sleep}",
        "title_timeline_observed": "{server}: ab -n {n} -c {c}, sleep {sleep} (measured)",
        "slot": "ab slot {index}",
        "worker": "worker {index}",
        "loop": "event loop",
        "time": "Time since ab started, s",
        "connect": "connect",
        "queued": "waiting (accept queue / loop)",
        "handler": "handler: IO wait (sleep)",
        "close": "response → close",
        "read": "worker reads the request",
        "blocked": "loop blocked (batch size)",
        "server_aiohttp": "aiohttp (asyncio.sleep)",
        "server_aiohttp-blocking": "aiohttp, blocking time.sleep",
        # the shapes' figure and the pools' timelines
        "pool": "pool thread {index}",
        "pool_wait": "waiting for a pool thread",
        "held": "a pool thread holds the request (its Python and the sleep)",
        "measured_dots": "measured (figures/), median",
        "title_shapes": "Which shape for which load: every shape, ab -n {n}",
        "title_pools": "Thread pools: aiohttp's executor and a gthread worker",
        "shape_aiohttp": "aiohttp (asyncio.sleep)",
        "shape_aiohttp-mixed": "aiohttp, {blocking_ms} ms blocking slice",
        "shape_aiohttp-executor": "aiohttp, sleep in the executor ({threads} threads)",
        "shape_aiohttp-blocking": "aiohttp, blocking time.sleep",
        "shape_django": "Django, 1 sync worker",
        "shape_django-gthread": "Django gthread, 1 worker × {threads} threads",
        "shape_django-asgi": "Django under uvicorn, async view",
        "shape_django-asgi-sync": "Django under uvicorn, sync view",
        "lecture_title": "Queueing in the lab: aiohttp vs Django under ab",
        "lecture_intro": "Figures made by `asim lecture` from asim's simulation of ab and the "
                         "servers and from its queueing theory (MVA, asymptotic bounds); "
                         "sleep {sleep} s, {cores} CPU {cores:core/cores} shared by the server "
                         "and ab.",
    },
    "ru": {
        "x_clients": "Одновременных клиентов N (ab -c)",
        "y_rps": "Пропускная способность, запросов/с",
        "mva": "MVA (установившийся режим)",
        "bound": "Асимптотические границы",
        "des": "Симуляция прогона ab",
        "des_n": "Симуляция ab -n {n}",
        "title_capacity": "Пул воркеров и цикл событий: границы и колено N*",
        "x_time": "Время от старта ab, с",
        "y_requests": "Запросов",
        "in_system": "В системе (от старта ab до ответа)",
        "waiting": "Ещё не в обработчике",
        "time_average": "Среднее по времени L",
        "little": "Закон Литтла: X·R",
        "title_little": "Закон Литтла на одном прогоне: L = X·R",
        "title_finite": "Короткий прогон ab и установившийся режим",
        "x_workers": "Синхронных воркеров gunicorn W",
        "sleep_line": "sleep {sleep_ms:g} мс",
        "target": "цель: {rps:g} запр./с",
        "title_workers": "Сколько воркеров нужно для заданной нагрузки?",
        "y_latency": "Полное время запроса, мс",
        "p50": "p50 (медиана)",
        "p90": "p90",
        "p100": "p100 (максимум)",
        "title_percentiles": "Перцентили задержки с ростом числа клиентов (ab -n {n})",
        "title_timelines": "Временные диаграммы трёх серверов",
        "title_timeline": "{server}: ab -n {n} -c {c}, sleep {sleep}",
        "title_timeline_observed": "{server}: ab -n {n} -c {c}, sleep {sleep} (измерено)",
        "slot": "слот ab {index}",
        "worker": "воркер {index}",
        "loop": "цикл событий",
        "time": "Время от старта ab, с",
        "connect": "соединение",
        "queued": "ожидание (очередь accept / цикл)",
        "handler": "обработчик: ожидание IO (sleep)",
        "close": "ответ → закрытие",
        "read": "воркер читает запрос",
        "blocked": "цикл заблокирован (размер пачки)",
        "server_aiohttp": "aiohttp (asyncio.sleep)",
        "server_aiohttp-blocking": "aiohttp с блокирующим time.sleep",
        # график форм серверов и диаграммы пулов потоков
        "pool": "поток пула {index}",
        "pool_wait": "ожидание свободного потока пула",
        "held": "поток пула держит запрос (его Python и sleep)",
        "measured_dots": "измерено (figures/), медиана",
        "title_shapes": "Какая форма сервера для какой нагрузки: ab -n {n}",
        "title_pools": "Пулы потоков: executor в aiohttp и воркер gthread",
        "shape_aiohttp": "aiohttp (asyncio.sleep)",
        "shape_aiohttp-mixed": "aiohttp, блокирующий кусок {blocking_ms} мс",
        "shape_aiohttp-executor": "aiohttp, sleep в executor (потоков: {threads})",
        "shape_aiohttp-blocking": "aiohttp с блокирующим time.sleep",
        "shape_django": "Django, 1 синхронный воркер",
        "shape_django-gthread": "Django gthread, 1 воркер, потоков: {threads}",
        "shape_django-asgi": "Django под uvicorn, асинхронное view",
        "shape_django-asgi-sync": "Django под uvicorn, синхронное view",
        "lecture_title": "Очереди в лабораторной: aiohttp против Django под нагрузкой ab",
        "lecture_intro": "Графики построены командой `asim lecture` по симуляции ab и серверов "
                         "и по теории очередей (MVA, асимптотические границы); sleep {sleep} с, "
                         "{cores:ядро/ядра/ядер} процессора делят сервер и ab.",
    },
}

_CAPTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "capacity": (
            "Django's W sync workers cap throughput at about W/S: {dj1_max} requests/s with one "
            "worker and {dj4_max} with four, reached past the knees N* ≈ {dj1_knee} and "
            "{dj4_knee} clients.",
            "The event loop scales with clients up to N* ≈ {aio_knee} (MVA: {aio_x} requests/s "
            "at N = {aio_n}); past it the simulated loop, busy and warm, beats the cold-CPU bound "
            "of {aio_max}: {des_max} at N = {des_n}.",
        ),
        "little": (
            "{label}: on average L = {L} requests were in the system, and X·R = {X} requests/s "
            "× {R} s = {XR}; not yet in the handler: Lq = {Lq} and X·Wq = {X} × {Wq} s = {XWq}.",
            "ab's own numbers obey it too: RPS × mean Total = {ab_rps} × {ab_total} ms = {ab_L},"
            " a little under c = {c} because the first request runs alone and the run drains.",
        ),
        "timelines": (
            "ab -n {n} -c {c}, sleep {sleep} s: aiohttp sleeps in all connections at once and "
            "is done in {aio_t} s; Django with {w:worker/workers} serves {w:request/requests} at a "
            "time and needs {dj_t} s.",
            "The blocking aiohttp runs handlers one after another, in batches of {batches}, "
            "and needs {blk_t} s; bars show connect, waiting, sleep and close.",
        ),
        "finite": (
            "With -n {n_short} -c {c} ab reports {aio_short} requests/s for aiohttp, {pct} % "
            "below the steady state's {aio_mva} (MVA); a run of -n {n_long} gives {aio_long}.",
            "The first request runs alone and the last wave is partial; Django's single worker "
            "is saturated anyway, so its short run loses only {dj_pct} %.",
        ),
        "workers": (
            "For {target} requests/s with ab -c {c}, Django needs W = {needed} workers at sleep "
            "{sleeps} ms (MVA); the rule W ≈ RPS × S gives {rule}.",
            "Each worker adds about 1/S requests/s while the {cores} cores have room; simulated "
            "ab runs at S = {sleep} s (dots, -n {n}) agree with MVA within {err} %.",
        ),
        "percentiles": (
            "At c = {c} (ab -n {n}): aiohttp p50 {a50} ms, max {a100} ms; Django with one worker "
            "p50 {d50} ms, max {d100} ms; blocking aiohttp p50 {b50} ms, max {b100} ms.",
            "The event loop keeps every request close to the sleep; one worker or a blocked "
            "loop makes requests queue, and the median and the tail grow with c.",
        ),
        "shapes": (
            "ab -n {n}, sleep {sleep} s, at c = {c} the model gives: aiohttp {aio} requests/s, "
            "with a {b} ms blocking slice {mixed}, Django under uvicorn {asgi} (async view) and "
            "{asgi_sync} (sync view), the executor {ex}, gthread {gt}, the sync worker {dj}, "
            "the blocking aiohttp {blk}.",
            "Threads cap a shape at threads / S ({t} gthread threads: {gt_cap} requests/s, the "
            "executor's {pool}: {ex_cap}, one sync worker: {dj_cap}); the event loops grow with "
            "the clients until the CPU per request binds, soonest on Django's ASGI path; dots: "
            "{k} measured points.",
        ),
        "pools": (
            "ab -n {n} -c {c}, sleep {sleep} s, {t} threads: aiohttp's loop takes all {c} "
            "connections at once, but only {t} sleeps run at a time in the executor's threads; "
            "{waves} rounds (ab's first request runs alone), {ex_t} s, the threads busy "
            "{ex_busy} % of the run.",
            "A gthread worker with {t} threads holds each request in one thread from its read "
            "to its response, the rest wait in the worker: {gt_t} s, the threads busy {gt_busy} "
            "%; more clients than threads only lengthen the queue.",
        ),
    },
    "ru": {
        "capacity": (
            "W синхронных воркеров Django ограничивают пропускную способность величиной около "
            "W/S: {dj1_max} запр./с с одним воркером и {dj4_max} запр./с с четырьмя; предел "
            "достигается за коленом, при N* ≈ {dj1_knee} и {dj4_knee} соответственно.",
            "Цикл событий масштабируется до N* ≈ {aio_knee} (по MVA {aio_x} запр./с при "
            "N = {aio_n}); дальше симулированный цикл, занятый и с прогретым кэшем, превосходит "
            "границу {aio_max}, посчитанную по холодному CPU: {des_max} при N = {des_n}.",
        ),
        "little": (
            "{label}: в среднем в системе находилось L = {L:запрос/запроса/запросов}, а X·R = "
            "{X} запр./с × {R} с = {XR}; ещё не дошли до обработчика: Lq = {Lq} и X·Wq = {X} × "
            "{Wq} с = {XWq}.",
            "Числа самого ab подчиняются тому же закону: RPS × среднее Total = {ab_rps} × "
            "{ab_total} мс = {ab_L}, чуть меньше c = {c}: первый запрос идёт в одиночку, "
            "а в конце прогон затухает.",
        ),
        "timelines": (
            "ab -n {n} -c {c}, sleep {sleep} с: aiohttp спит во всех соединениях сразу и "
            "укладывается в {aio_t} с; Django с {w:воркером/воркерами/воркерами} обслуживает по "
            "{w:запросу/запроса/запросов} за раз, и ему нужно {dj_t} с.",
            "aiohttp с блокирующим sleep выполняет обработчики один за другим пачками по "
            "{batches} и тратит {blk_t} с; на полосах: соединение, ожидание, sleep, закрытие.",
        ),
        "finite": (
            "При -n {n_short} -c {c} ab показывает для aiohttp {aio_short} запр./с — на "
            "{pct} % меньше установившихся {aio_mva} (MVA); прогон -n {n_long} даёт {aio_long}.",
            "Первый запрос идёт в одиночку, последняя волна неполная; единственный воркер "
            "Django и так загружен полностью, поэтому его короткий прогон теряет лишь {dj_pct} %.",
        ),
        "workers": (
            "Чтобы получить {target} запр./с при ab -c {c}, Django нужно число воркеров "
            "W = {needed} при sleep {sleeps} мс (MVA); правило W ≈ RPS × S даёт {rule}.",
            "Каждый воркер добавляет около 1/S запр./с, пока хватает {cores:ядра/ядер/ядер}; "
            "симуляция ab при S = {sleep} с (точки, -n {n}) расходится с MVA не более чем на "
            "{err} %.",
        ),
        "percentiles": (
            "При c = {c} (ab -n {n}): aiohttp — медиана {a50} мс, максимум {a100} мс; Django с "
            "одним воркером — {d50} и {d100} мс; aiohttp с блокирующим sleep — {b50} и {b100} мс.",
            "Цикл событий держит каждый запрос около времени sleep; один воркер или "
            "заблокированный цикл выстраивают запросы в очередь, и медиана, и хвост растут с c.",
        ),
        "shapes": (
            "ab -n {n}, sleep {sleep} с, при c = {c} модель даёт: aiohttp — {aio} запр./с, с "
            "блокирующим куском {b} мс — {mixed}, Django под uvicorn — {asgi} (асинхронное view) "
            "и {asgi_sync} (синхронное view), executor — {ex}, gthread — {gt}, синхронный "
            "воркер — {dj}, aiohttp с блокирующим sleep — {blk}.",
            "Потоки ограничивают форму величиной «потоки / S» ({t:поток/потока/потоков} "
            "gthread — {gt_cap} запр./с, {pool:поток/потока/потоков} executor — {ex_cap}, один "
            "синхронный воркер — {dj_cap}); циклы событий растут вместе с клиентами, пока не "
            "упрутся в CPU на запрос, раньше всех путь ASGI в Django; точки — {k} измеренных "
            "значений.",
        ),
        "pools": (
            "ab -n {n} -c {c}, sleep {sleep} с, {t:поток/потока/потоков}: цикл aiohttp "
            "принимает все {c} соединений сразу, но одновременно спят только "
            "{t:запрос/запроса/запросов} — в потоках executor; {waves:раунд/раунда/раундов} "
            "(первый запрос ab идёт в одиночку), {ex_t} с, потоки заняты {ex_busy} % времени "
            "прогона.",
            "Воркер gthread с {t:потоком/потоками/потоками} держит каждый запрос в одном потоке "
            "от чтения до ответа, остальные ждут в воркере: {gt_t} с, потоки заняты {gt_busy} %;"
            " клиенты сверх числа потоков лишь удлиняют очередь.",
        ),
    },
}

# Second captions of a figure for when its numbers tell the other story.
_VARIANTS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "capacity-below": (
            "Django's W sync workers cap throughput at about W/S: {dj1_max} requests/s with one "
            "worker and {dj4_max} with four, reached past the knees N* ≈ {dj1_knee} and "
            "{dj4_knee} clients.",
            "The event loop scales with clients up to N* ≈ {aio_knee} (MVA: {aio_x} requests/s "
            "at N = {aio_n}); the simulated ab runs stay below the cold-CPU bound of {aio_max} "
            "({des_max} at N = {des_n}): a finite run starts with one request alone and ends "
            "with a partial wave, and ab shares the cores with the loop.",
        ),
    },
    "ru": {
        "capacity-below": (
            "W синхронных воркеров Django ограничивают пропускную способность величиной около "
            "W/S: {dj1_max} запр./с с одним воркером и {dj4_max} запр./с с четырьмя; предел "
            "достигается за коленом, при N* ≈ {dj1_knee} и {dj4_knee} соответственно.",
            "Цикл событий масштабируется до N* ≈ {aio_knee} (по MVA {aio_x} запр./с при "
            "N = {aio_n}); симулированные прогоны ab остаются ниже границы {aio_max}, "
            "посчитанной по холодному CPU ({des_max} при N = {des_n}): конечный прогон "
            "начинается с одного запроса и кончается неполной волной, а ab делит ядра с циклом.",
        ),
    },
}

FIGURES: tuple[str, ...] = tuple(_CAPTIONS["en"])


def check_lang(lang: str) -> str:
    """``lang`` if asim speaks it; InputError otherwise."""
    if lang not in LANGS:
        raise InputError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
    return lang


def texts(lang: str) -> Mapping[str, str]:
    """Labels, legend entries and lane names in ``lang``."""
    return MappingProxyType(_TEXTS[check_lang(lang)])


def caption(lang: str, figure: str, **numbers: object) -> tuple[str, str]:
    """The two caption lines of ``figure`` in ``lang`` with ``numbers`` filled in."""
    lang = check_lang(lang)
    first, second = _CAPTIONS[lang].get(figure) or _VARIANTS[lang][figure]
    return fill(first, **numbers), fill(second, **numbers)


class _Counting(string.Formatter):
    """str.format, where a spec with slashes chooses the word that agrees with the number."""

    def format_field(self, value: object, format_spec: str) -> str:
        if "/" not in format_spec:
            return super().format_field(value, format_spec)
        forms = format_spec.split("/")
        text = str(value)
        whole = int(text) if re.fullmatch(r"\d+", text) else None
        if len(forms) == 2:  # English: one, other
            word = forms[0] if whole == 1 else forms[1]
        elif whole is None:  # Russian: a fraction takes the genitive singular
            word = forms[1]
        else:
            word = _ru_plural(whole, *forms)
        return f"{text} {word}"


def fill(template: str, **numbers: object) -> str:
    """``template`` formatted like str.format, with ``{n:one/other}`` (English) or
    ``{n:one/few/many}`` (Russian) giving the number and the word that agrees with it."""
    return _Counting().format(template, **numbers)


def number(value: float, digits: int, lang: str) -> str:
    """``value`` with ``digits`` decimals; Russian writes the decimal comma."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "ru" else text


def server_name(lang: str, server: str, workers: int = 1) -> str:
    """How a figure names a server, e.g. "Django, 4 workers" / "Django, 4 воркера"."""
    if not shape(server).takes(WORKERS):
        return texts(lang).get(f"server_{server}", shape(server).label)
    if lang == "ru":
        return f"Django, {workers} {_ru_plural(workers, 'воркер', 'воркера', 'воркеров')}"
    return f"Django, {workers} worker{'s' if workers != 1 else ''}"


def _ru_plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many
