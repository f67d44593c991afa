"""Size and opening time of a run's report.html in headless Chromium (the issue's goal for a 1,000-trial run:
under 10 MB, open in under 2 s), paired with plotly-only pages opened in the same repeat, optionally a
screenshot for the docs.

    .venv/bin/aebnas search --table benchmarks/tables/digits.json.gz --strategy random --budget 1000 --run-dir runs/t1000
    .venv/bin/python benchmarks/report_html.py runs/t1000 --repeats 5
    .venv/bin/python benchmarks/report_html.py runs/demo --screenshot docs/img/report_html.png

Opening time: from navigation start until the page's script has drawn every plot and table
(``window.reportReady``), with its parts (``window.reportTimes``: plotly.js loaded, data parsed, each plot and
table drawn). A loaded machine slows every page alike, so each repeat also opens a page holding only the full
plotly.js bundle (the yardstick: plotly.py's ``get_plotlyjs()``) and one holding only the report's basic
bundle, each in a fresh browser; the ratio report / full-plotly-only is the load-independent number.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _environment import print_environment  # noqa: E402

from aebnas.engine.search import Search  # noqa: E402
from aebnas.engine.search.report import write_report  # noqa: E402
from aebnas.engine.search.report_html import plotly_js  # noqa: E402
from tests.browser import Browser  # noqa: E402


def _plotly_only(folder: Path, name: str, script: str) -> Path:
    page = folder / f"{name}.html"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><script>{script}</script></head><body>"
                    "<script>window.reportReady = performance.now()</script></body></html>", encoding="utf-8")
    return page


def main() -> None:
    from plotly.offline import get_plotlyjs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshot", default=None, help="PNG of the page's first screen")
    args = parser.parse_args()
    print_environment(args)
    with Search.open(args.run_dir) as search:
        start = time.perf_counter()
        _, out = write_report(search)
        print(f"{len(search.trials())} trials; report written in {time.perf_counter() - start:.1f} s")
    page = out / "report.html"
    print(f"report.html: {page.stat().st_size / 1e6:.2f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        pages = {"full plotly.js only": _plotly_only(Path(tmp), "full", get_plotlyjs()),
                 "basic plotly.js only": _plotly_only(Path(tmp), "basic", plotly_js()), "report": page}
        opened = {name: [] for name in pages}
        parts = []
        for _ in range(args.repeats):
            for name, path in pages.items():
                with Browser() as browser:
                    opened[name].append(browser.open(path) / 1000)
                    if browser.errors:
                        raise SystemExit(f"{path}: JavaScript errors: {browser.errors}")
                    if path == page:
                        parts.append(browser.eval("window.reportTimes"))
                        if args.screenshot:
                            browser.screenshot(args.screenshot)
    median = statistics.median
    for name, times in opened.items():
        print(f"{name:>21}: median {median(times):.2f} s; all: " + ", ".join(f"{t:.2f}" for t in times))
    ratios = [r / p for r, p in zip(opened["report"], opened["full plotly.js only"])]
    print(f"report / full plotly.js only, paired: median {median(ratios):.2f}; all: "
          + ", ".join(f"{r:.2f}" for r in ratios))
    print("report's parts (median ms): " + ", ".join(f"{k} {median(p[k] for p in parts):.0f}" for k in parts[0])
          + " (plotly: when plotly.js was loaded; the rest: time each took)")


if __name__ == "__main__":
    main()
