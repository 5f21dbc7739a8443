"""`asim explore`: the aiohttp app that serves the page and re-predicts on every change.

Routes (all GET):

    /                      the page (``?lang=ru`` for Russian)
    /static/explore.js     the page's script; /static/plotly.min.js plotly's bundle
    /api/predict?...       the model's points for the page's fields (`asim.explore.grid`)
    /api/timeline?...&c=   the Gantt lanes of a small run of one clicked point
    /api/measured          the measured points of the --results folder, if one was given
    /api/measured_text?...&c=   what ab printed in the median run of one measured point

Bad input gets HTTP 400 and ``{"error": "<the CLI's one-line message>"}``; nothing the client
sends names a file, so the app reads only its own static files and the results folder it was
started with. The model runs in a worker thread, so a long prediction does not stall the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from asim.calibration.file import Calibration, resolve
from asim.errors import AsimError, InputError
from asim.explore.grid import parse_query, point_scenario, predict_payload, timeline_payload
from asim.explore.measured import measured_payload, measured_text, open_results
from asim.explore.page import PLOTLY_JS, PageConfig, live_fields, live_page, static_text
from asim.explore.texts import check_lang
from asim.validate.store import ResultsDir

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
LOG = logging.getLogger("asim.explore")


@dataclass(frozen=True, kw_only=True)
class Explorer:
    """What one running app knows: the model's costs, the page's language, the results."""

    calibration: Calibration
    lang: str = "en"
    results: ResultsDir | None = None


EXPLORER = web.AppKey("explorer", Explorer)


def make_app(
    *, lang: str = "en", results: Path | str | None = None, calibration: Calibration | None = None
) -> web.Application:
    """The explore app; ``results`` (an `asim validate` folder) adds measured points.

    ``calibration`` defaults to what `asim predict` uses: this machine's calibration file if
    `asim calibrate` wrote one, else the built-in costs.
    """
    explorer = Explorer(
        calibration=calibration or resolve("auto"),
        lang=check_lang(lang),
        results=None if results is None else open_results(results),
    )
    app = web.Application(middlewares=[_errors])
    app[EXPLORER] = explorer
    app.router.add_get("/", _page)
    app.router.add_get("/static/explore.js", _script)
    app.router.add_get("/static/plotly.min.js", _plotly)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_get("/api/predict", _predict)
    app.router.add_get("/api/timeline", _timeline)
    app.router.add_get("/api/measured", _measured)
    app.router.add_get("/api/measured_text", _measured_text)
    return app


def serve(
    app: web.Application,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    on_ready: Callable[[str], None] = print,
) -> None:
    """Serve ``app`` until Ctrl-C or SIGTERM; ``on_ready`` gets the page's URL once it listens
    (port 0 takes a free one). InputError when the address cannot be bound."""
    # On Ctrl-C, _serve's finally has closed the listener and the open connections.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(app, host, port, on_ready))


async def _serve(
    app: web.Application, host: str, port: int, on_ready: Callable[[str], None]
) -> None:
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        on_ready(f"http://{shown}:{bound[1]}/")
        stop = asyncio.Event()
        # (Windows has no add_signal_handler, and off the main thread it raises RuntimeError)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One-line JSON errors: 400 for bad input, 422 for other asim errors, 404 for unknown paths,
    500 (logged) otherwise; never a traceback page."""
    try:
        return await handler(request)
    except InputError as exc:
        return _error(400, str(exc))
    except AsimError as exc:  # e.g. the model predicts that ab gives up: valid input, no report
        return _error(422, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason)
        raise
    except Exception:
        LOG.exception("explore: %s failed", request.path_qs)
        return _error(500, "internal error in the explore app (its terminal shows the details)")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _explorer(request: web.Request) -> Explorer:
    return request.app[EXPLORER]


async def _page(request: web.Request) -> web.Response:
    explorer = _explorer(request)
    lang = check_lang(request.query.get("lang", explorer.lang))
    config = PageConfig(
        mode="live", lang=lang, calibration=explorer.calibration.describe(),
        fields=live_fields(), has_results=explorer.results is not None,
    )
    return web.Response(text=live_page(config), content_type="text/html", charset="utf-8")


async def _script(request: web.Request) -> web.Response:
    return web.Response(text=static_text("explore.js"), content_type="text/javascript",
                        charset="utf-8")


async def _plotly(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PLOTLY_JS, headers={"Content-Type": "text/javascript"})


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _predict(request: web.Request) -> web.Response:
    explorer = _explorer(request)
    query = parse_query(dict(request.query))
    cal = explorer.calibration
    payload = await _in_thread(predict_payload, query, cal.costs, calibration=cal.describe())
    return _json(payload)


async def _timeline(request: web.Request) -> web.Response:
    scenario = point_scenario(dict(request.query))
    payload = await _in_thread(timeline_payload, scenario, _explorer(request).calibration.costs)
    return _json(payload)


async def _measured(request: web.Request) -> web.Response:
    return _json(await _in_thread(measured_payload, _results(request)))


async def _measured_text(request: web.Request) -> web.Response:
    scenario = point_scenario(dict(request.query))
    return _json(await _in_thread(measured_text, _results(request), scenario))


def _results(request: web.Request) -> ResultsDir:
    results = _explorer(request).results
    if results is None:
        raise InputError("this explore app was started without --results")
    return results


# One model thread: changes are answered in order, and a change the page has already replaced
# (its request aborted) is dropped before it starts.
_MODEL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asim-explore-model")


async def _in_thread(fn: Callable, *args: object, **kwargs: object) -> object:
    return await asyncio.get_running_loop().run_in_executor(_MODEL, lambda: fn(*args, **kwargs))


def _json(payload: object) -> web.Response:
    return web.Response(text=json.dumps(payload, ensure_ascii=False),
                        content_type="application/json", charset="utf-8")
