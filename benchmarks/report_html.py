"""Size and opening time of a run's report.html in headless Chromium (the issue's goal for a 1,000-trial run:
under 10 MB, open in under 2 s), optionally a screenshot for the docs.

    .venv/bin/aebnas search --table benchmarks/tables/digits.json.gz --strategy random --budget 1000 --run-dir runs/t1000
    .venv/bin/python benchmarks/report_html.py runs/t1000
    .venv/bin/python benchmarks/report_html.py runs/demo --screenshot docs/img/report_html.png

Opening time: from navigation start until the page's script has drawn every plot and table
(``window.reportReady``), median of --repeats opens; also the time until the script starts, i.e. the
browser's loading and parsing of the inline plotly.js and data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _environment import print_environment  # noqa: E402

from aebnas.engine.search import Search  # noqa: E402
from aebnas.engine.search.report import write_report  # noqa: E402
from tests.browser import Browser  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--screenshot", default=None, help="PNG of the page's first screen")
    args = parser.parse_args()
    print_environment(args)
    with Search.open(args.run_dir) as search:
        start = time.perf_counter()
        _, out = write_report(search)
        print(f"{len(search.trials())} trials; report written in {time.perf_counter() - start:.1f} s")
    page = out / "report.html"
    print(f"report.html: {page.stat().st_size / 1e6:.2f} MB")
    ready, started = [], []
    for _ in range(args.repeats):
        with Browser() as browser:
            ready.append(browser.open(page) / 1000)
            started.append(browser.eval("window.reportStart") / 1000)
            if browser.errors:
                raise SystemExit(f"JavaScript errors: {browser.errors}")
            if args.screenshot:
                browser.screenshot(args.screenshot)
    print(f"open (median of {args.repeats}): {statistics.median(ready):.2f} s until drawn "
          f"({statistics.median(started):.2f} s loading plotly.js and the data, the rest drawing); all: "
          + ", ".join(f"{r:.2f}" for r in ready))


if __name__ == "__main__":
    main()
