"""Every word of the explore page, in English and in Russian.

The Gantt chart's lane and segment names are the lecture's own (`asim.lecture.captions`), so
the page and `asim timeline` call things by the same names.
"""

from __future__ import annotations

from asim.lecture.captions import LANGS, check_lang, texts
from asim.lecture.timeline import KINDS

_PAGE: dict[str, dict[str, str]] = {
    "en": {
        "title": "asim explore: what ab prints, predicted by the model",
        "shapes": "Server shapes",
        "workers": "W, worker processes (comma list)",
        "workers_offline": "W, worker processes",
        "threads": "T, threads per pool (comma list)",
        "threads_offline": "T, threads per pool",
        "blocking": "B, blocking slice, s (comma list)",
        "blocking_offline": "B, blocking slice, s",
        "shape_default": "the shape's default",
        "sleep": "Handler sleep, s",
        "requests": "ab -n, requests",
        "c_range": "C = ab -c: from, to, step",
        "c_range_offline": "C = ab -c: from, to",
        "keepalive": "ab -k (keep-alive)",
        "cores": "CPU cores",
        "overlay": "Overlay",
        "mva": "MVA (steady state)",
        "bounds": "asymptotic bounds",
        "des": "simulated ab run",
        "x_clients": "Concurrent clients C (ab -c)",
        "y_rps": "Requests per second, 1/s",
        "y_time": "Time per request, ms",
        "title_rps": "Throughput: ab's Requests per second",
        "title_time": "Latency: ab's Time per request (mean)",
        "ab_text": "What ab would print",
        "ab_measured": "What ab printed: measured ({folder})",
        "show_model": "model",
        "show_measured": "measured",
        "measured_run": "the median of {runs} runs (run {repeat}): {command}",
        "ab_hint": "Click a point of a simulated line to see what ab would print for it.",
        "timeline": "Timeline of a small run",
        "timeline_hint": "The clicked shape's first requests: who waits where.",
        "timeline_title": "{shape}: ab -n {n} -c {c}, sleep {sleep} s",
        "x_timeline": "Time since ab started, ms",
        "measured": "measured ({folder})",
        "measured_bar": "median of the runs, bar from min to max",
        "computing": "computing…",
        "error": "Error",
        "calibration": "Model costs",
        "offline": "Offline copy: the model was run in advance for the values in the lists.",
        "no_point": "This point is not in the offline grid.",
        "language": "Язык: русский",
        "hover_rps": "RPS",
        "hover_time": "time per request",
        "hover_all": "across all",
        "hover_p50": "median",
        "hover_p100": "longest",
        "hover_runs": "runs",
        "ms": "ms",
        "s": "s",
        "bound_note": "bounds: RPS at most, time at least",
    },
    "ru": {
        "title": "asim explore: что напечатает ab — прогноз модели",
        "shapes": "Серверы",
        "workers": "W, процессы-воркеры (через запятую)",
        "workers_offline": "W, процессы-воркеры",
        "threads": "T, потоков в пуле (через запятую)",
        "threads_offline": "T, потоков в пуле",
        "blocking": "B, блокирующий отрезок, с (через запятую)",
        "blocking_offline": "B, блокирующий отрезок, с",
        "shape_default": "по умолчанию для сервера",
        "sleep": "Sleep обработчика, с",
        "requests": "ab -n, запросов",
        "c_range": "C = ab -c: от, до, шаг",
        "c_range_offline": "C = ab -c: от, до",
        "keepalive": "ab -k (keep-alive)",
        "cores": "Ядер CPU",
        "overlay": "Поверх",
        "mva": "MVA (установившийся режим)",
        "bounds": "асимптотические границы",
        "des": "симуляция прогона ab",
        "x_clients": "Одновременных клиентов C (ab -c)",
        "y_rps": "Запросов в секунду, 1/с",
        "y_time": "Время на запрос, мс",
        "title_rps": "Пропускная способность: Requests per second у ab",
        "title_time": "Задержка: Time per request у ab (среднее)",
        "ab_text": "Что напечатает ab",
        "ab_measured": "Что напечатал ab: измерено ({folder})",
        "show_model": "модель",
        "show_measured": "измерено",
        "measured_run": "медианный из {runs} прогонов (прогон {repeat}): {command}",
        "ab_hint": "Щёлкните по точке симуляции, чтобы увидеть, что напечатает ab.",
        "timeline": "Временная диаграмма короткого прогона",
        "timeline_hint": "Первые запросы выбранного сервера: кто где ждёт.",
        "timeline_title": "{shape}: ab -n {n} -c {c}, sleep {sleep} с",
        "x_timeline": "Время от старта ab, мс",
        "measured": "измерено ({folder})",
        "measured_bar": "медиана прогонов, отрезок от min до max",
        "computing": "считаю…",
        "error": "Ошибка",
        "calibration": "Стоимости модели",
        "offline": "Офлайн-копия: модель заранее посчитана для значений из списков.",
        "no_point": "Этой точки нет в офлайн-сетке.",
        "language": "Language: English",
        "hover_rps": "RPS",
        "hover_time": "время на запрос",
        "hover_all": "по всем",
        "hover_p50": "медиана",
        "hover_p100": "самый долгий",
        "hover_runs": "прогонов",
        "ms": "мс",
        "s": "с",
        "bound_note": "границы: RPS не больше, время не меньше",
    },
}

_LANES = ("slot", "worker", "loop")


def page_texts() -> dict[str, dict[str, str]]:
    """Both languages' words for the page (it switches language without a request)."""
    out = {}
    for lang in LANGS:
        lecture = texts(lang)
        words = dict(_PAGE[lang])
        words.update({f"lane_{k}": lecture[k] for k in _LANES})
        words.update({f"kind_{k}": lecture[k] for k in KINDS})
        out[lang] = words
    return out


__all__ = ["LANGS", "check_lang", "page_texts"]
