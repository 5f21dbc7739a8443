"""What `asim explore` does once its options are parsed: serve the page, or export it."""

from __future__ import annotations

import webbrowser
from collections.abc import Callable

from asim.calibration.file import resolve
from asim.explore.app import make_app, serve
from asim.explore.export import build_export, export_path, write_export
from asim.explore.texts import check_lang

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run_explore(
    *,
    host: str,
    port: int,
    results: str | None,
    lang: str,
    open_browser: bool,
    export: str | None,
    echo: Callable[..., None],
) -> None:
    """Serve the page until Ctrl-C (printing its URL), or with ``export`` write the offline
    file; InputError for a bad option, before anything starts."""
    check_lang(lang)
    calibration = resolve("auto")
    if export is not None:
        export_path(export)
        echo(f"precomputing the offline grid ({calibration.describe()})", err=True)
        html = build_export(lang=lang, results=results, calibration=calibration,
                            progress=_progress(echo))
        path = write_export(export, html)
        echo(f"wrote {path} ({len(html.encode()) / 1e6:.1f} MB): open it in any browser, "
             "no network needed")
        return
    app = make_app(lang=lang, results=results, calibration=calibration)

    def ready(url: str) -> None:
        echo(f"asim explore: {url}  ({calibration.describe()}); Ctrl-C to stop")
        if host not in LOOPBACK:
            echo(f"note: listening on {host}, so other machines can reach this page", err=True)
        if open_browser:
            webbrowser.open(url)

    serve(app, host=host, port=port, on_ready=ready)
    echo("stopped")


def _progress(echo: Callable[..., None]) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        if done == total or done % 250 == 0:
            echo(f"  {done}/{total} points", err=True)

    return report
