"""``aebnas report RUN_DIR --serve``: the command serves the report on 127.0.0.1, writes it again when a trial
is added to the store (the stamp the page polls changes), and stops cleanly on Ctrl-C; a port in use or a
host that is not this machine's is refused in one line."""

import signal
import socket
import subprocess
import sys
import time
from urllib.request import urlopen

import pytest

from aebnas.cli import main
from aebnas.engine.search import Search
from aebnas.engine.search.report_serve import ReportServer
from aebnas.exceptions import AebnasError


@pytest.fixture()
def run_dir(tmp_path):
    """A run of two failed trials: nothing to train, a report all the same."""
    with Search(tmp_path / "run", dataset="digits", n_init=2, strategy="random", device="cpu") as search:
        for trial in search.ask(2):
            search.tell(trial, error="RuntimeError: out of memory")
    return tmp_path / "run"


def _get(url: str) -> str:
    with urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_the_served_report_is_written_again_when_the_store_changes_and_ctrl_c_stops_it(run_dir):
    server = subprocess.Popen([sys.executable, "-m", "aebnas.cli", "report", str(run_dir), "--serve", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = server.stdout.readline()
        assert line.startswith(f"serving the report of {run_dir} at http://127.0.0.1:"), (line, server.stderr.read())
        url = line.split(" at ")[1].split()[0]
        page, stamp = _get(url), _get(url + "stamp")
        assert stamp and f'"{stamp}"' in page and 'fetch("stamp"' in page  # the page polls the stamp it was served with
        assert '"failed":2' in page and '"pending":1' not in page
        with Search.open(run_dir) as search:
            search.ask(1)  # a third trial, pending
        end = time.monotonic() + 60
        while _get(url + "stamp") == stamp and time.monotonic() < end:
            time.sleep(0.2)
        assert _get(url + "stamp") != stamp
        assert '"pending":1' in _get(url)
        with pytest.raises(Exception, match="404"):
            _get(url + "store.sqlite")  # only the report and its stamp
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
        assert server.returncode == 0, err
        assert out.strip().endswith("report server stopped")
    finally:
        server.kill()
        server.wait()


def test_a_port_in_use_or_a_foreign_host_is_refused_in_one_line(run_dir, capsys):
    with socket.socket() as busy, Search.open(run_dir) as search:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(AebnasError, match=f"cannot serve the report on 127.0.0.1:{port}: .*--port"):
            ReportServer(search, port=port)
        with pytest.raises(AebnasError, match="cannot serve the report on 203.0.113.9:0: .*--host"):
            ReportServer(search, host="203.0.113.9", port=0)  # TEST-NET-3: no address of this machine
        assert main(["report", str(run_dir), "--serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aebnas: error: cannot serve the report") and "\n" not in err
    assert main(["report", str(run_dir), "--serve", "--port", "70000"]) == 2
    assert "argument --port: must be an integer in 0..65535" in capsys.readouterr().err
