"""A headless Chromium driven over the Chrome DevTools protocol (websocket-client): open a page, collect its
console errors and exceptions, evaluate JavaScript, move and click the real mouse, take screenshots."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


class Browser:
    """One headless Chromium with one page; a context manager. ``errors`` lists console errors and exceptions."""

    def __init__(self, width: int = 1400, height: int = 1000):
        import websocket

        # Chromium's helper processes may still write to the profile after the browser exits
        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        self._proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--remote-debugging-port=0",
             f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file, end = Path(self._profile.name) / "DevToolsActivePort", time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):  # Chromium writes its port there
            if self._proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"{CHROMIUM} did not open its DevTools port")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]


        pages = json.load(urlopen(f"http://127.0.0.1:{port}/json/list"))
        self._ws = websocket.create_connection(next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"])
        self._ids = itertools.count(1)
        self.errors: list[str] = []
        self.requests: list[str] = []
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params):
        """Sends one command and returns its result, recording the events that arrive meanwhile."""
        id_ = next(self._ids)
        self._ws.send(json.dumps({"id": id_, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == id_:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._event(message)

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])

    def eval(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: str | Path, ready: str = "window.reportReady", timeout: float = 30) -> float:
        """Loads the file at ``path`` and waits until ``ready`` is truthy; returns its value."""
        self.call("Page.navigate", url=Path(path).resolve().as_uri())
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = self.eval(f"typeof {ready.split('.')[0]} !== 'undefined' && {ready}")
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"{path}: {ready} not set after {timeout} s; errors: {self.errors}")

    def mouse(self, kind: str, x: float, y: float) -> None:
        """A real mouse event at page pixel (x, y): 'mouseMoved', or 'click' (press and release)."""
        for event in (["mousePressed", "mouseReleased"] if kind == "click" else [kind]):
            self.call("Input.dispatchMouseEvent", type=event, x=x, y=y, button="left" if kind == "click" else "none",
                      clickCount=1 if kind == "click" else 0)

    def screenshot(self, path: str | Path, full_page: bool = False) -> Path:
        params = {"format": "png", "captureBeyondViewport": full_page}
        Path(path).write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))
        return Path(path)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *_) -> None:
        self._ws.close()
        self._proc.terminate()
        self._proc.wait(10)
        self._profile.cleanup()
