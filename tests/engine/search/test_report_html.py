"""report.html opened in a real headless Chromium: no JavaScript errors, no network requests, every plot drawn,
hovering a point shows the trial's thresholds and exit fractions, clicking selects it, and the trial table
sorts and filters, and the versions shown are those that wrote the run. Runs: a real search with a confirmed
candidate and a failed trial, and a run whose trials all failed (no front, no confirmed candidate)."""

import json
import sqlite3
import time

import pytest

from aebnas.engine.search import Search, TrialState
from aebnas.engine.search.report import format_report, write_report
from aebnas.engine.search.store import STORE_FILE, current_versions
from aebnas.engine.search.strategies import BayesianOptimisation
from tests.browser import CHROMIUM, Browser
from tests.conftest import BACKBONE_EPOCHS, with_backbones

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install "
                                "chromium); the report's browser tests need one")
pytest.importorskip("websocket", reason="websocket-client (the test extra) drives Chromium")

ERROR = "RuntimeError: out of memory <in a branch>"


@pytest.fixture(scope="module")
def search(digits, digits_backbones, tmp_path_factory):
    search = Search(with_backbones(tmp_path_factory.mktemp("run"), digits_backbones), data=digits, dataset="digits",
                    budget=4, batch_size=2, n_init=2, epochs=1, backbone_epochs=BACKBONE_EPOCHS, confirm_top=1,
                    confirm_epochs=1, strategy=BayesianOptimisation(pool_size=20), device="cpu")
    search.run()
    search.tell(search.ask(1)[0], error=ERROR)
    yield search
    search.close()


@pytest.fixture(scope="module")
def page(search):
    _, out = write_report(search)
    with Browser() as browser:
        browser.open(out / "report.html")
        yield browser, out


def test_the_page_opens_offline_without_errors_and_draws_every_plot(page, search):
    browser, out = page
    assert browser.errors == []
    assert browser.requests == [(out / "report.html").resolve().as_uri()]  # everything inline
    for plot in ("front-plot", "confirmed-plot", "fractions-plot", "hv-plot", "hv-time-plot", "predictor-plot"):
        assert browser.eval(f"document.querySelectorAll('#{plot} .scatterlayer .trace, #{plot} .barlayer .trace')"
                            ".length") > 0, plot
        assert browser.eval(f"document.querySelector('#{plot} .main-svg').getBoundingClientRect().height") > 200
    complete = search.trials(TrialState.COMPLETE)
    assert browser.eval("document.querySelectorAll('#front-plot .trace.scatter')[0].querySelectorAll('path.point')"
                        ".length") == sum(len(t.curve) for t in complete)
    assert "verified" in browser.eval("document.getElementById('confirmed').textContent")
    assert browser.eval("document.querySelectorAll('#diagram svg rect').length") >= 5  # stages, branches, exits
    assert "± 2 std" in browser.eval("document.getElementById('calibration').textContent")
    assert browser.screenshot(out / "report.png").stat().st_size > 50_000


def _point_position(browser, index: int, trace: int = 1) -> tuple[float, float]:
    """Page pixel of point ``index`` of the front plot's ``trace`` (1: the front; log x axis), scrolled into view."""
    return tuple(browser.eval(f"""(() => {{
        window.scrollTo(0, 0);
        const gd = document.getElementById('front-plot'), fl = gd._fullLayout, tr = gd.data[{trace}], r = gd.getBoundingClientRect();
        return [r.left + fl.xaxis._offset + fl.xaxis.l2p(Math.log10(tr.x[{index}])),
                r.top + fl.yaxis._offset + fl.yaxis.l2p(tr.y[{index}])];
    }})()"""))


def test_hovering_a_front_point_shows_its_trial_and_clicking_selects_it(page, search):
    browser, _ = page
    point = search.front()[-1]
    x, y = _point_position(browser, len(search.front()) - 1)
    browser.mouse("mouseMoved", x, y)
    hover = browser.eval("document.querySelector('#front-plot .hoverlayer').textContent")
    assert f"trial {point.trial_number}" in hover and point.arch_id in hover
    assert "thresholds" in hover and "exit fractions" in hover
    assert point.arch_id in browser.eval("document.getElementById('details').textContent")
    off_front = browser.eval("""(() => {  // the point of every trial's curves farthest from the front's points
        const gd = document.getElementById('front-plot'), fl = gd._fullLayout, all = gd.data[0], front = gd.data[1];
        const px = (x, y) => [fl.xaxis.l2p(Math.log10(x)), fl.yaxis.l2p(y)];
        const gap = i => Math.min(...front.x.map((fx, j) => Math.hypot(px(all.x[i], all.y[i])[0] - px(fx, front.y[j])[0],
                                                                       px(all.x[i], all.y[i])[1] - px(fx, front.y[j])[1])));
        return all.x.reduce((best, x, i) => x == null || (best >= 0 && gap(best) >= gap(i)) ? best : i, -1);
    })()""")
    time.sleep(0.1)  # plotly handles a hover at most every 50 ms (a later one waits)
    browser.mouse("mouseMoved", *_point_position(browser, off_front, trace=0))
    time.sleep(0.1)
    n, i = browser.eval(f"document.getElementById('front-plot').data[0].customdata[{off_front}]")
    shown = browser.eval("document.getElementById('details').textContent")
    assert f"trial{n}" in shown and "hovered point" in shown
    held = [float(f"{t:.4g}") for t in search.store.trial(n).curve.thresholds[i].tolist()]  # as the page holds them
    written = browser.eval(f"{json.dumps(held)}.map(x => x === Infinity ? '∞' : x.toPrecision(3)).join(', ')")
    assert "thresholds" + written in shown  # JavaScript's 3 digits (0.0000670, where Python writes 6.7e-05)
    time.sleep(0.1)
    browser.mouse("mouseMoved", x, y)
    browser.mouse("click", x, y)
    assert "(selected)" in browser.eval("document.getElementById('details').textContent")
    assert browser.eval("location.hash") == f"#trial-{point.trial_number}"
    assert browser.eval("document.querySelector('#trials tr.selected').dataset.n") == str(point.trial_number)
    assert browser.eval("document.getElementById('front-plot').data[3].x.length") > 0  # its curve highlighted
    assert browser.errors == []


def test_the_trial_table_sorts_filters_and_shows_errors(page, search):
    browser, _ = page
    numbers = lambda: browser.eval("[...document.querySelectorAll('#trials tbody tr')].map(r => Number(r.dataset.n))")
    assert sorted(numbers()) == [t.number for t in search.trials()]
    browser.eval("document.querySelector('#trials th[data-i=\"0\"]').click()")  # sorted by trial already: reversed
    assert numbers() == sorted(numbers(), reverse=True)
    browser.eval("const s = document.getElementById('state-filter'); s.value = 'failed'; s.dispatchEvent(new Event('change'))")
    failed = search.trials(TrialState.FAILED)
    assert numbers() == [t.number for t in failed]
    assert ERROR in browser.eval("document.querySelector('#trials tbody').textContent")
    browser.eval("document.querySelector('#trials tbody tr').click()")
    assert ERROR in browser.eval("document.getElementById('details').textContent")
    assert browser.errors == []


def test_a_run_whose_trials_all_failed_has_a_report_too(tmp_path):
    search = Search(tmp_path / "failed", dataset="digits", n_init=2, device="cpu")
    for trial in search.ask(2):
        search.tell(trial, error=ERROR)
    _, out = write_report(search)
    search.close()
    with Browser() as browser:
        browser.open(out / "report.html")
        assert browser.errors == []
        assert "No confirmed candidates" in browser.eval("document.getElementById('confirmed').textContent")
        assert browser.eval("document.querySelectorAll('#trials tbody tr').length") == 2
        assert browser.eval("document.querySelectorAll('#front-plot .main-svg').length") > 0


def test_a_table_search_report_draws_its_front_and_says_it_confirms_nothing(tiny_table, tmp_path):
    with Search(tmp_path / "table", table=tiny_table, strategy="random", budget=6, n_init=2) as search:
        search.run()
        _, out = write_report(search)
    with Browser() as browser:
        browser.open(out / "report.html")
        assert browser.errors == []
        assert "a table search confirms nothing" in browser.eval("document.getElementById('confirmed').textContent")
        assert browser.eval("document.querySelectorAll('#front-plot path.point').length") > 0
        assert "training seconds looked up" in browser.eval("document.getElementById('hv-time-plot').textContent")


def test_the_report_shows_the_versions_that_wrote_the_run_not_this_process(tmp_path):
    with Search(tmp_path / "run", dataset="digits", n_init=2, device="cpu") as search:
        search.tell(search.ask(1)[0], error=ERROR)
    recorded = [{"since": 0, "trials": 0, "versions": dict(current_versions(), torch="1.0.0-recorded")}]
    with sqlite3.connect(tmp_path / "run" / STORE_FILE) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'versions'", (json.dumps(recorded),))
    with Search.open(tmp_path / "run") as search:
        report, out = write_report(search)
    assert report["versions"] == recorded and "torch 1.0.0-recorded" in format_report(report)
    with Browser() as browser:
        browser.open(out / "report.html")
        shown = browser.eval("document.getElementById('versions').textContent")
        assert "1.0.0-recorded" in shown and current_versions()["torch"] not in shown and browser.errors == []
    with sqlite3.connect(tmp_path / "run" / STORE_FILE) as db:  # a store from before versions were recorded
        db.execute("DELETE FROM meta WHERE key = 'versions'")
    with Search.open(tmp_path / "run") as search:
        report, out = write_report(search)
    assert "versions: not recorded" in format_report(report)
    with Browser() as browser:
        browser.open(out / "report.html")
        assert "not recorded" in browser.eval("document.getElementById('versions').textContent")
