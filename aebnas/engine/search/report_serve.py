"""``aebnas report RUN_DIR --serve``: the run's report over HTTP (the standard library's server), written again
whenever the run's store changes; the served page polls ``/stamp`` and reloads when a newer report is ready."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aebnas.engine.search.report import write_report
from aebnas.exceptions import AebnasError

_LIVE = """<script>// live refresh (aebnas report --serve): reload once the server has written a newer report
setInterval(() => fetch("stamp", {cache: "no-store"}).then(r => r.text())
  .then(s => { if (s !== "STAMP") location.reload(); }).catch(() => {}), 1500);
</script>
</body>"""


class ReportServer:
    """Serves the report of ``search`` (a Search, read only) from ``out_dir`` (default RUN_DIR/report) on
    ``host:port`` (port 0: a free one, see :attr:`url`). The socket is bound at once: a port in use or a host
    that is not this machine's raises AebnasError. :meth:`serve` writes the report, then polls the store every
    ``interval`` seconds and writes it again after a change, until Ctrl-C (or ``stop``)."""

    def __init__(self, search, out_dir: str | Path | None = None, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.search = search
        self.out_dir = Path(out_dir or search.run_dir / "report")
        self.stamp = ""  # when the report now served was written; "" before the first
        self._version: int | None = None  # the store's data version the report was written from
        try:
            self._httpd = ThreadingHTTPServer((host, port), self._handler())
        except (OSError, OverflowError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise AebnasError(f"cannot serve the report on {host}:{port}: {reason}; choose a free --port (0 picks "
                              "one) or a --host of this machine (default 127.0.0.1)") from None
        self._httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def refresh(self) -> dict[str, Any] | None:
        """Writes the report if the store changed since the last time (or was never written); returns the
        report (:func:`~aebnas.engine.search.report.build_report`), or None when nothing changed."""
        version = self.search.store.data_version()  # read first: a commit during the writing shows next time
        if version == self._version:
            return None
        report, _ = write_report(self.search, self.out_dir)
        self._version, self.stamp = version, f"{time.time():.6f}"
        return report

    def serve(self, interval: float = 1.0, stop: threading.Event | None = None) -> None:
        """Writes the report and serves it until ``stop`` is set or Ctrl-C; then closes the socket."""
        stop = stop or threading.Event()
        self.refresh()
        thread = threading.Thread(target=self._httpd.serve_forever, name="report-server", daemon=True)
        thread.start()
        try:
            while not stop.wait(interval):
                self.refresh()
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?")[0]
                if path == "/stamp":
                    self._send(server.stamp.encode(), "text/plain")
                elif path in ("/", "/report.html") and server.stamp:
                    page = (server.out_dir / "report.html").read_text(encoding="utf-8")
                    page = page[:page.rindex("</body>")] + _LIVE.replace("STAMP", server.stamp) + "\n</html>\n"
                    self._send(page.encode(), "text/html; charset=utf-8")
                else:
                    self.send_error(404, "only / (the report) and /stamp are served")

            def _send(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # one line per request would drown the terminal
                pass

        return Handler
