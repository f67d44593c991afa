"""One owner per run directory: the process that writes a run holds an exclusive lock on it (an OS file
lock, released by the OS when the process ends, however it ends), so a second search on the same
directory is refused in one line naming the owner, while reports may still read the run."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from filelock import FileLock, Timeout

from aebnas.exceptions import StoreError

LOCK_FILE = "owner.lock"
OWNER_FILE = "owner.json"


class RunBusyError(StoreError):
    """Another process owns the run directory."""


class RunOwner:
    """The lock of ``run_dir``. :meth:`claim` takes it (once; later calls do nothing) or raises
    RunBusyError; :meth:`release` gives it back."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._lock = FileLock(run_dir / LOCK_FILE, timeout=0)

    @property
    def owned(self) -> bool:
        return self._lock.is_locked

    def claim(self) -> None:
        if self.owned:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise RunBusyError(f"{self.run_dir} is in use by {self._describe_owner()}; wait for that search to end "
                               "(or stop it), or choose another --run-dir") from None
        (self.run_dir / OWNER_FILE).write_text(json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}))

    def release(self) -> None:
        if self.owned:
            self._lock.release()

    def _describe_owner(self) -> str:
        try:
            owner = json.loads((self.run_dir / OWNER_FILE).read_text())
            return f"process {owner['pid']} on {owner['host']} (since {owner['since']})"
        except (OSError, ValueError, KeyError):
            return "another process"
