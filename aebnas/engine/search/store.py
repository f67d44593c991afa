"""The run store: one SQLite file per run directory holding the run config, the versions that wrote it, every
trial, predictor snapshots and confirmed candidates. The only place that writes a run's records; every change is
committed at once, so a crash loses at most the trial that was running."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Sequence

from aebnas.engine.evaluation import TradeoffCurve
from aebnas.engine.search.records import ConfirmedCandidate, Prediction, Trial, TrialMetrics, TrialState
from aebnas.exceptions import StoreError
from aebnas.search_space import Architecture
from aebnas.versions import library_versions

STORE_FORMAT = "aebnas-run-store"
STORE_VERSION = 2  # 2: macs_budget column, strategy settings in the config
STORE_FILE = "store.sqlite"
VERSIONED = ("aebnas", "torch", "numpy", "botorch", "xgboost")  # with Python's: the versions a run records

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    number INTEGER PRIMARY KEY,
    arch_id TEXT NOT NULL,
    arch TEXT NOT NULL,
    state TEXT NOT NULL,
    source TEXT NOT NULL,
    macs_budget REAL,
    predicted TEXT,
    seed INTEGER NOT NULL,
    path_macs TEXT,
    metrics TEXT,
    curve TEXT,
    outputs_path TEXT,
    checkpoint_path TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    train_seconds REAL
);
CREATE INDEX trials_arch ON trials (arch_id);
CREATE TABLE predictors (
    id INTEGER PRIMARY KEY,
    complete_trials INTEGER NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE confirmed (
    arch_id TEXT PRIMARY KEY,
    trial_number INTEGER NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL
);
"""


_LEFT_UNTOUCHED = ("it was left untouched: move it aside, or rerun with --new to start afresh (--new keeps it "
                   "as an .old file)")


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def current_versions() -> dict[str, str]:
    """Python's and the :data:`VERSIONED` packages' versions in this process ('not installed' for a missing one)."""
    return library_versions(VERSIONED)


def _loads(text: str | None):
    return None if text is None else json.loads(text)


class RunStore:
    """SQLite store of one run. ``RunStore.open(run_dir, config)`` creates it or checks that an
    existing one holds the same config; a corrupt or foreign file raises StoreError untouched. The first write
    of each process that writes the run also records its versions (:attr:`versions`)."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._versions_recorded = False

    @classmethod
    def open(cls, run_dir: str | Path, config: dict[str, Any] | None = None, new: bool = False) -> "RunStore":
        """Opens (or creates) the store in ``run_dir``. ``config`` given: it must match the stored one,
        unless ``new`` is set, which starts the run afresh (the old store is moved aside, not deleted)."""
        run_dir = Path(run_dir)
        path = run_dir / STORE_FILE
        if new and path.exists():
            path.replace(path.with_name(f"{STORE_FILE}.{int(time.time())}.old"))
        exists = path.exists()
        if exists:
            cls._check_file(path)
        else:
            run_dir.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        db.row_factory = sqlite3.Row
        store = cls(path, db)
        if not exists:
            with store._transaction():
                for statement in _SCHEMA.strip().split(";\n"):
                    if statement.strip():
                        db.execute(statement)
                store._set_meta("format", STORE_FORMAT)
                store._set_meta("version", str(STORE_VERSION))
                if config is not None:
                    store._set_meta("config", json.dumps(config, sort_keys=True))
                    store._set_meta("config_hash", config_hash(config))
        elif config is not None:
            stored = store.config
            if stored is None:
                with store._transaction():
                    store._set_meta("config", json.dumps(config, sort_keys=True))
                    store._set_meta("config_hash", config_hash(config))
            elif config_hash(stored) != config_hash(config):
                diff = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
                db.close()
                raise StoreError(
                    f"{run_dir} holds a run with a different config (differs in: {', '.join(diff)}); "
                    "rerun with the same settings to resume, choose another --run-dir, or pass --new to start afresh"
                )
        return store

    @staticmethod
    def _check_file(path: Path) -> None:
        """Reads the file read-only; raises StoreError if it is not an aebnas run store."""
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                damage = [line for r in db.execute("PRAGMA quick_check").fetchall() for line in r[0].splitlines()
                          if line != "ok" and not line.startswith("***")]
            finally:
                db.close()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{path} is not a readable aebnas run store ({err}); {_LEFT_UNTOUCHED}") from None
        if row is None or row[0] != STORE_FORMAT:
            raise StoreError(f"{path} is an SQLite file of another program, not an aebnas run store; it was left untouched")
        if damage:
            raise StoreError(f"{path} is damaged (SQLite quick_check: {'; '.join(damage[:2])}); {_LEFT_UNTOUCHED}")
        if version is None or not str(version[0]).isdigit() or int(version[0]) != STORE_VERSION:
            raise StoreError(f"{path} has store version {version and version[0]}; this aebnas reads version {STORE_VERSION}")

    def close(self) -> None:
        self._db.close()

    # -- meta ---------------------------------------------------------------------------------
    class _Tx:
        def __init__(self, store: "RunStore"):
            self.store = store

        def __enter__(self):
            self.store._db.execute("BEGIN IMMEDIATE")

        def __exit__(self, kind, *_):
            if kind is None and not self.store._versions_recorded:
                self.store._record_versions()
            self.store._db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _transaction(self) -> "_Tx":
        return RunStore._Tx(self)

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @property
    def config(self) -> dict[str, Any] | None:
        return _loads(self._meta("config"))

    @property
    def versions(self) -> list[dict[str, Any]]:
        """The versions that wrote this run, oldest first: one entry per change, each ``{"since": time.time() of
        its first write, "trials": how many trials were stored then, "versions": {name: version}}``; empty for a
        store written before versions were recorded."""
        return _loads(self._meta("versions")) or []

    def data_version(self) -> int:
        """A number that changes whenever another connection (another process, say) commits to the store."""
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    def _record_versions(self) -> None:
        """Adds this process's versions to :attr:`versions` unless they equal the last entry (inside a write)."""
        recorded, current = self.versions, current_versions()
        if not recorded or recorded[-1]["versions"] != current:
            recorded.append({"since": time.time(), "trials": self.count(), "versions": current})
            self._set_meta("versions", json.dumps(recorded))
        self._versions_recorded = True

    # -- trials -------------------------------------------------------------------------------
    def add_trial(self, arch: Architecture, source: str, seed: int, macs_budget: float | None = None,
                  predicted: Prediction | None = None) -> Trial:
        """Records a new PENDING trial and returns it."""
        return self.add_trials([(arch, source, macs_budget, predicted)], seed)[0]

    def add_trials(self, new: Sequence[tuple[Architecture, str, float | None, Prediction | None]],
                   seed: int) -> list[Trial]:
        """Records new PENDING trials, given as (architecture, source, MACs budget, prediction), in one
        transaction: a crash stores all of them or none, so a resumed run proposes the same batch again."""
        numbers = []
        with self._transaction():
            for arch, source, macs_budget, predicted in new:
                cursor = self._db.execute(
                    "INSERT INTO trials (arch_id, arch, state, source, macs_budget, predicted, seed, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (arch.id, arch.to_json(), TrialState.PENDING.value, source, macs_budget,
                     json.dumps(predicted.to_dict()) if predicted else None, seed, time.time()),
                )
                numbers.append(cursor.lastrowid)
        return [self.trial(n) for n in numbers]

    def mark_running(self, number: int) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE trials SET state = ?, started = ?, attempts = attempts + 1, error = NULL WHERE number = ?",
                (TrialState.RUNNING.value, time.time(), number),
            )

    def mark_pending(self, number: int) -> None:
        with self._transaction():
            self._db.execute("UPDATE trials SET state = ? WHERE number = ?", (TrialState.PENDING.value, number))

    def complete(self, number: int, path_macs: tuple[int, ...], metrics: TrialMetrics, curve: TradeoffCurve,
                 outputs_path: str | None = None, checkpoint_path: str | None = None,
                 train_seconds: float | None = None) -> Trial:
        with self._transaction():
            self._db.execute(
                "UPDATE trials SET state = ?, path_macs = ?, metrics = ?, curve = ?, outputs_path = ?, "
                "checkpoint_path = ?, finished = ?, train_seconds = ?, error = NULL WHERE number = ?",
                (TrialState.COMPLETE.value, json.dumps(list(path_macs)), json.dumps(metrics.to_dict()),
                 json.dumps(curve.to_dict()),
                 outputs_path, checkpoint_path, time.time(), train_seconds, number),
            )
        return self.trial(number)

    def fail(self, number: int, error: str) -> Trial:
        with self._transaction():
            self._db.execute("UPDATE trials SET state = ?, error = ?, finished = ? WHERE number = ?",
                             (TrialState.FAILED.value, error, time.time(), number))
        return self.trial(number)

    def trial(self, number: int) -> Trial:
        row = self._db.execute("SELECT * FROM trials WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise StoreError(f"no trial {number} in {self.path}")
        return self._trial(row)

    def trials(self, *states: TrialState) -> list[Trial]:
        """Trials in creation order, optionally only those in ``states``."""
        where, values = self._where(states)
        return [self._trial(r) for r in self._db.execute(f"SELECT * FROM trials{where} ORDER BY number", values)]

    def count(self, *states: TrialState) -> int:
        """How many trials there are (in ``states``, if given), without reading them."""
        where, values = self._where(states)
        return self._db.execute(f"SELECT COUNT(*) FROM trials{where}", values).fetchone()[0]

    @staticmethod
    def _where(states: Sequence[TrialState]) -> tuple[str, tuple[str, ...]]:
        if not states:
            return "", ()
        return f" WHERE state IN ({', '.join('?' * len(states))})", tuple(TrialState(s).value for s in states)

    @staticmethod
    def _trial(row: sqlite3.Row) -> Trial:
        path_macs, predicted, curve = _loads(row["path_macs"]), _loads(row["predicted"]), _loads(row["curve"])
        return Trial(
            number=row["number"], arch=Architecture.from_json(row["arch"]), state=TrialState(row["state"]),
            source=row["source"], macs_budget=row["macs_budget"], seed=row["seed"],
            predicted=Prediction.from_dict(predicted) if predicted else None,
            path_macs=tuple(path_macs) if path_macs else None, metrics=TrialMetrics.from_dict(_loads(row["metrics"]) or {}),
            curve=TradeoffCurve.from_dict(curve) if curve else None, outputs_path=row["outputs_path"], checkpoint_path=row["checkpoint_path"],
            error=row["error"], attempts=row["attempts"], created=row["created"], started=row["started"],
            finished=row["finished"], train_seconds=row["train_seconds"],
        )

    # -- predictors and confirmations -----------------------------------------------------------
    def add_predictor(self, complete_trials: int, kind: str, path: str) -> None:
        """Records the predictor snapshot saved at ``path`` (relative to the run directory), fitted on
        ``complete_trials`` trials; a snapshot of the same kind and trials replaces the old row."""
        with self._transaction():
            self._db.execute("DELETE FROM predictors WHERE complete_trials = ? AND kind = ?", (complete_trials, kind))
            self._db.execute(
                "INSERT INTO predictors (complete_trials, kind, path, created) VALUES (?, ?, ?, ?)",
                (complete_trials, kind, path, time.time()),
            )

    def add_confirmed(self, result: ConfirmedCandidate) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO confirmed (arch_id, trial_number, result, created) VALUES (?, ?, ?, ?)",
                (result.arch_id, result.trial_number, json.dumps(result.to_dict()), time.time()),
            )

    def confirmed(self) -> dict[str, ConfirmedCandidate]:
        """Confirmed candidates by architecture id, in the order they were confirmed."""
        rows = self._db.execute("SELECT * FROM confirmed ORDER BY created").fetchall()
        return {r["arch_id"]: ConfirmedCandidate.from_dict(json.loads(r["result"])) for r in rows}
