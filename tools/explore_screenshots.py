"""Screenshots of the explore page for the README: docs/explore-en.png and docs/explore-ru.png.

    .venv/bin/python tools/explore_screenshots.py [OUT_DIR]

Starts `asim explore` with the seed's measured runs (figures/) and the built-in costs, drives
the page in Debian's headless Chromium with Playwright (as tests/test_explore_browser.py does),
adds Django under gunicorn gthread with 4 threads, turns the MVA overlay on, clicks Django's
point at C = 20 and saves the whole page, once per language.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1000}
CLICK = ("django W=1", 20)


def shoot(url: str, out: Path, lang: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{url}?lang={lang}")
        page.wait_for_function("() => window.asimExplore && asimExplore.done > 0")
        done = page.evaluate("() => asimExplore.done")
        page.check("input[name=server][value=django-gthread]")
        page.fill("#f-threads", "4")
        page.check("input[name=method][value=mva]")
        page.wait_for_function("n => asimExplore.done > n", arg=done)
        xy = page.evaluate(
            """([name, c]) => {
                 const gd = document.getElementById("chart-time");
                 const t = gd._fullData.find(t => t.name === name);
                 const i = Array.from(t.x).indexOf(c);
                 const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
                 const box = gd.getBoundingClientRect();
                 return [box.left + xa._offset + xa.l2p(t.x[i]),
                         box.top + ya._offset + ya.l2p(t.y[i])];
               }""", list(CLICK))
        before = page.evaluate("() => asimExplore.timelineDone")
        page.mouse.click(*xy)
        page.wait_for_function("n => asimExplore.timelineDone > n", arg=before)
        page.mouse.move(5, 5)  # no hover label in the picture
        page.wait_for_timeout(500)
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs"
    env = {**os.environ, "ASIM_CALIBRATION": "none"}
    child = subprocess.Popen(
        [sys.executable, "-m", "asim", "explore", "--port", "0", "--results",
         str(REPO / "figures")], stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = re.search(r"http://\S+/", child.stdout.readline()).group(0)
        for lang in ("en", "ru"):
            path = out_dir / f"explore-{lang}.png"
            shoot(url, path, lang)
            print(f"wrote {path}")
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=20)


if __name__ == "__main__":
    main()
