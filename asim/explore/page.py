"""The explore page's HTML, served by the app or written as one self-contained offline file.

Both come from the same template, stylesheet and script in ``static/``; the app links the
script and plotly's bundled ``plotly.min.js`` (from the `plotly` Python package, never from the
internet), the offline file inlines them together with the precomputed grid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template

import plotly

from asim.explore.grid import DEFAULTS, SHAPES
from asim.explore.texts import check_lang, page_texts
from asim.lecture.timeline import COLOURS
from asim.sim.shapes import BLOCKING, THREADS, WORKERS, shape

STATIC = resources.files("asim.explore") / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
NUMBER_FIELDS = ("workers", "threads", "blocking", "sleep", "requests", "c_from", "c_to",
                 "c_step", "cores")


@dataclass(frozen=True, kw_only=True)
class PageConfig:
    """What the page's script starts from (written into the page as JSON).

    ``fields`` maps each text field to ``{"value": ...}``, or with ``"options"`` to a list
    (the offline file offers only the values it precomputed). ``measured`` is embedded only in
    the offline file; the app serves it at ``api/measured`` when ``has_results``.
    """

    mode: str  # "live" or "offline"
    lang: str
    calibration: str
    fields: dict[str, dict[str, object]]
    servers: tuple[str, ...] = ("aiohttp", "django")
    keepalive: bool = False
    overlays: tuple[str, ...] = ()
    has_results: bool = False
    measured: dict[str, object] | None = None

    def to_json(self) -> str:
        return json.dumps({
            "mode": self.mode, "lang": check_lang(self.lang), "calibration": self.calibration,
            "fields": self.fields, "servers": list(self.servers), "keepalive": self.keepalive,
            "overlays": list(self.overlays), "has_results": self.has_results,
            "measured": self.measured, "shapes": shapes(), "texts": page_texts(),
            "colours": dict(COLOURS),
        }, ensure_ascii=False)


def shapes() -> list[dict[str, object]]:
    """Each server shape the page offers and which of W, T (threads) and B (a blocking slice)
    it takes."""
    return [{"name": name, "workers": shape(name).takes(WORKERS),
             "threads": shape(name).takes(THREADS), "blocking": shape(name).takes(BLOCKING)}
            for name in SHAPES]


def live_fields() -> dict[str, dict[str, object]]:
    """Free text fields with the defaults of `asim.explore.grid.DEFAULTS`."""
    return {name: {"value": DEFAULTS[name]} for name in NUMBER_FIELDS}


def plotly_js() -> str:
    """plotly's own minified bundle, as the `plotly` package ships it."""
    return PLOTLY_JS.read_text(encoding="utf-8")


@cache
def static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def live_page(config: PageConfig) -> str:
    """The page the app serves: script and plotly linked from the app."""
    scripts = ('<script src="static/plotly.min.js"></script>\n'
               '<script src="static/explore.js"></script>')
    return _render(config, data="", scripts=scripts)


def offline_page(config: PageConfig, grid_b64: str) -> str:
    """One HTML file with everything inline: plotly, the script and the gzipped grid."""
    data = f'<script id="asim-grid" type="application/octet-stream">{grid_b64}</script>'
    scripts = (f"<script>{_inline(plotly_js())}</script>\n"
               f"<script>{_inline(static_text('explore.js'))}</script>")
    return _render(config, data=data, scripts=scripts)


def _render(config: PageConfig, *, data: str, scripts: str) -> str:
    return Template(static_text("page.html")).substitute(
        lang=config.lang, css=static_text("explore.css"),
        config=_inline(config.to_json()), data=data, scripts=scripts,
    )


def _inline(text: str) -> str:
    """Text safe inside a <script> element: no "</script" can end it early."""
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
