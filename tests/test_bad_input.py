"""The bad-input battery: every bad command line, file or setting a new user was seen to try ends through
the real CLI entry point in exit status 2 and one line on stderr naming what is wrong (no traceback), and
changes nothing on disk: the workspace's files and folders are the same, byte for byte, afterwards."""

import dataclasses
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from aebnas.cli import main
from aebnas.engine.profile import Timer, profile_space
from aebnas.engine.search import RunStore, SearchConfig
from aebnas.search_space import SearchSpace

GOOD_ARCH = {"backbone": "digits_cnn", "exits": [{"position": 1, "branch": [{"type": "conv", "kernel": 3}]}]}


def _arch(**changes) -> dict:
    arch = json.loads(json.dumps(GOOD_ARCH))
    exit_spec = arch["exits"][0]
    for key, value in changes.items():
        if key in ("position", "branch"):
            exit_spec[key] = value
        elif key == "layer":
            exit_spec["branch"] = [value]
        else:
            arch[key] = value
    return arch


ARCHS = {
    "position_str": _arch(position="a"), "position_null": _arch(position=None), "position_list": _arch(position=[1]),
    "position_dict": _arch(position={}), "position_float": _arch(position=1.0), "position_bool": _arch(position=True),
    "kernel_float": _arch(layer={"type": "conv", "kernel": 3.0}), "type_list": _arch(layer={"type": ["conv"]}),
    "branch_int": _arch(branch=3), "options_str": _arch(backbone_options="wide"),
    "scalar_option_list": _arch(backbone_options={"width": [16]}), "exits_dict": _arch(exits={}),
    "backbone_int": _arch(backbone=7),
    "tuple_option_scalar": {"backbone": "mobilenetv3", "backbone_options": {"depths": 2},
                            "exits": [{"position": 1, "branch": []}]},
    "tuple_option_short": {"backbone": "mobilenetv3", "backbone_options": {"depths": [2, 2]},
                           "exits": [{"position": 1, "branch": []}]},
}


def _store(run_dir: Path) -> None:
    """A real run store of the default digits search holding enough trials to span many pages."""
    config = SearchConfig(dataset="digits")
    space = SearchSpace.for_dataset(type("Info", (), {"input_shape": (1, 8, 8), "num_classes": 10}), "extended")
    store = RunStore.open(run_dir, config.identity())
    for arch in space.sample_many(200, 0):
        store.add_trial(arch, "init", 0)
    store.close()


def _damage(run_dir: Path, fraction: float) -> None:
    """Overwrites the whole SQLite page at ``fraction`` of the store file with garbage."""
    path = run_dir / "store.sqlite"
    data = bytearray(path.read_bytes())
    start = int(len(data) * fraction) // 4096 * 4096
    data[start:start + 4096] = b"\x55" * 4096
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_table_path):
    """The workspace every bad command line refers to."""
    ws = tmp_path_factory.mktemp("ws")
    shutil.copy(tiny_table_path, ws / "table.json.gz")
    (ws / "garbage.json.gz").write_bytes(b"\x00not gzip")
    (ws / "foreign.json.gz").write_bytes(gzip.compress(b'{"trials": []}'))
    (ws / "good.json").write_text(json.dumps(GOOD_ARCH))
    for name, arch in ARCHS.items():
        (ws / f"{name}.json").write_text(json.dumps(arch))
    (ws / "not_json.json").write_text("{oops")
    (ws / "position_9.json").write_text(json.dumps(_arch(position=9)))
    (ws / "binary.json").write_bytes(bytes(range(128, 256)) * 4)
    (ws / "a_file").write_text("not a directory\n")
    _store(ws / "run_ok")
    for fraction in (0.10, 0.16):
        shutil.copytree(ws / "run_ok", ws / f"run_bad{int(100 * fraction)}")
        _damage(ws / f"run_bad{int(100 * fraction)}", fraction)
    paper = profile_space(SearchSpace("paper", (1, 8, 8), 10), timer=Timer(torch.device("cpu"), 1, 2, 1, 1))
    paper.save(ws / "latency_paper.json")
    dataclasses.replace(paper, num_classes=3).save(ws / "latency_3_classes.json")
    (ws / "cand").mkdir()
    (ws / "cand" / "result.json").write_text("{not json")
    (ws / "cand" / "outputs.pt").write_bytes(b"junk")
    return ws


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


TRAIN = ["train", "{ws}/good.json", "--cache-dir", "{ws}/cache", "--out", "{ws}/out"]
SEARCH = ["search", "--run-dir", "{ws}/run"]
LATENCY = ["--cost", "latency", "--latency-table", "{ws}/latency_paper.json", "--space", "paper"]

CASES = [
    # architecture JSON with wrong types (aebnas macs FILE)
    *[(["macs", f"{{ws}}/{name}.json"], "exit position must be an integer")
      for name in ("position_str", "position_null", "position_list", "position_dict", "position_float",
                   "position_bool")],
    (["macs", "{ws}/kernel_float.json"], "kernel=3.0 is not allowed"),
    (["macs", "{ws}/type_list.json"], "a layer must be an object with a 'type' string"),
    (["macs", "{ws}/branch_int.json"], "exit branch must be a list of layers"),
    (["macs", "{ws}/options_str.json"], "options must be an object"),
    (["macs", "{ws}/scalar_option_list.json"], "width must be a single value"),
    (["macs", "{ws}/exits_dict.json"], "'exits' must be a list"),
    (["macs", "{ws}/backbone_int.json"], "'backbone' must be a name"),
    (["macs", "{ws}/tuple_option_scalar.json", "--dataset", "cifar10"], "depths must be a list of 5 values"),
    (["macs", "{ws}/tuple_option_short.json", "--dataset", "cifar10"], "depths"),
    (["macs", "{ws}/binary.json"], "not a UTF-8 text file"),
    (["macs", "{ws}/not_json.json"], "invalid architecture JSON"),
    (["macs", "{ws}/position_9.json"], "exit position(s) [9] not offered by backbone 'digits_cnn'"),
    (["macs", "{ws}/missing.json"], "no such architecture file"),
    (["macs", "{ws}/good.json", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    # seeds
    (["space", "sample", "--seed", "-1"], "--seed: must be an integer in 0..4294967295"),
    ([*TRAIN, "--seed", "-1"], "--seed: must be an integer in 0..4294967295"),
    ([*SEARCH, "--seed", "99999999999999999999999"], "--seed: must be an integer in 0..4294967295"),
    # MACs values
    ([*TRAIN, "--target-macs", "150%"], "at most 100%"),
    ([*TRAIN, "--target-macs", "1e999"], "cannot read MACs '1e999'"),
    ([*TRAIN, "--target-macs", "1"], "below the cheapest exit path"),
    ([*SEARCH, "--target-macs", "e"], "cannot read MACs 'e'"),
    ([*SEARCH, "--target-macs", "."], "cannot read MACs '.'"),
    ([*SEARCH, "--target-macs", "1e999"], "cannot read MACs '1e999'"),
    ([*SEARCH, "--target-macs", "lots"], "use e.g. 20M, 150k"),
    ([*SEARCH, "--target-macs", "60%"], "needs a network to be relative to"),
    ([*SEARCH, "--target-macs", "1"], "below the backbone's cost up to its first exit position"),
    (["tune", "{ws}/cand", "--target-macs", "1x"], "cannot read MACs '1x'"),
    # the latency cost axis: tables missing, damaged, for another space, rule or model; targets in the wrong unit
    ([*SEARCH, "--cost", "latency"], "needs a latency table (--latency-table FILE)"),
    ([*SEARCH, "--latency-table", "{ws}/latency_paper.json"], "used only with cost 'latency'"),
    ([*SEARCH, "--cost", "latency", "--latency-table", "{ws}/missing.json"], "no such latency table"),
    ([*SEARCH, "--cost", "latency", "--latency-table", "{ws}/not_json.json"], "is not JSON"),
    ([*SEARCH, "--cost", "latency", "--latency-table", "{ws}/good.json"], "is not an aebnas latency table"),
    ([*SEARCH, *LATENCY[:4]], "lacks"),
    ([*SEARCH, *LATENCY[:2], "--latency-table", "{ws}/latency_3_classes.json"], "profiled for backbone"),
    ([*SEARCH, *LATENCY, "--rule", "entropy"], "times the exit check of rule 'margin'"),
    ([*SEARCH, *LATENCY, "--target-macs", "1M"], "--target-macs does not apply to --cost latency"),
    ([*SEARCH, "--target-ms", "1"], "--target-ms does not apply to --cost macs"),
    ([*SEARCH, *LATENCY, "--target-ms", "1e-9"], "below the backbone's cost up to its first exit position"),
    # output and run directories that are a file, below a file, or not creatable
    (["train", "{ws}/good.json", "--cache-dir", "{ws}/cache", "--out", "{ws}/a_file"], "is an existing file"),
    (["train", "{ws}/good.json", "--cache-dir", "{ws}/cache", "--out", "{ws}/a_file/sub"], "a_file is a file"),
    (["train", "{ws}/good.json", "--cache-dir", "{ws}/cache", "--out", "/proc/aebnas-out"], "cannot be created"),
    (["search", "--run-dir", "{ws}/a_file"], "is an existing file"),
    (["search", "--run-dir", "{ws}/a_file/sub"], "a_file is a file"),
    (["search", "--run-dir", "/proc/aebnas-run"], "cannot be created"),
    (["report", "{ws}/run_ok", "--out", "{ws}/a_file"], "is an existing file"),
    (["report", "{ws}/run_ok", "--out", "{ws}/a_file/sub"], "a_file is a file"),
    (["report", "{ws}/run_ok", "--out", "/proc/aebnas-report"], "cannot be created"),
    (["predictors", "fit", "--run", "{ws}/run_ok", "--out", "{ws}/run_ok"], "is a directory"),
    (["report", "{ws}/no-such-run"], "holds no aebnas run"),
    # damaged stores: refused before anything is written, with the way out
    (["search", "--run-dir", "{ws}/run_bad10"], "--new"),
    (["search", "--run-dir", "{ws}/run_bad16"], "--new"),
    (["report", "{ws}/run_bad10"], "--new"),
    (["predictors", "fit", "--run", "{ws}/run_bad16", "--out", "{ws}/p.json"], "--new"),
    # trained-candidate directories
    (["tune", "{ws}/cand", "--target-macs", "1M"], "is not a result written by `aebnas train`"),
    (["tune", "{ws}/no-such-dir", "--target-macs", "1M"], "not a trained-candidate directory"),
    # values that were accepted silently
    (["space", "sample", "-n", "0"], "-n: must be an integer >= 1"),
    (["space", "sample", "-n", "-3"], "-n: must be an integer >= 1"),
    (["space", "sample", "--max-exits", "100"], "max exits must be an integer in 1..4"),
    (["space", "sample", "--preset", "huge"], "allowed: paper, extended, edanas"),
    ([*SEARCH, "--max-exits", "100"], "max exits must be an integer in 1..4"),
    ([*SEARCH, "--backbone-epochs", "0"], "--backbone-epochs: must be an integer >= 1"),
    ([*SEARCH, "--pool-size", "0"], "--pool-size: must be an integer >= 1"),
    ([*SEARCH, "--pool-size", "-5"], "--pool-size: must be an integer >= 1"),
    ([*SEARCH, "--confirm-epochs", "0"], "--confirm-epochs: must be an integer >= 1"),
    ([*SEARCH, "--batch-size", "1000000000"], "batch size (proposals per round) must be an integer in 1..20"),
    ([*SEARCH, "--budget", "0"], "--budget: must be an integer >= 1"),
    ([*SEARCH, "--epochs", "0"], "--epochs: must be an integer >= 1"),
    ([*SEARCH, "--lr", "-1"], "--lr: must be a finite number > 0"),
    ([*SEARCH, "--lr", "nan"], "--lr: must be a finite number > 0"),
    ([*SEARCH, "--n-init", "1"], "--n-init: must be an integer >= 2"),
    ([*SEARCH, "--rule", "bogus"], "unknown exit rule 'bogus'"),
    ([*SEARCH, "--strategy", "random", "--pool-size", "10"], "set(s) the bo strategy"),
    ([*SEARCH, "--strategy-option", "population=3"], "population"),
    ([*SEARCH, "--strategy-option", "pool_generations=-1"], "pool_generations must be an integer >= 0; got -1"),
    ([*SEARCH, "--strategy-option", "paper_share=2"], "paper_share must be a number in [0, 1]; got 2"),
    ([*SEARCH, "--strategy", "paper", "--strategy-option", "thresholds=coarse"],
     "thresholds must be one of fine, grid; got 'coarse'"),
    ([*SEARCH, "--backbone-option", "depth"], "must look like KEY=VALUE"),
    ([*TRAIN, "--rule", "bogus"], "unknown exit rule 'bogus'"),
    ([*TRAIN, "--lr", "0"], "--lr: must be a finite number > 0"),
    (["datasets", "--data-dir", "/nonexistent"], "is not an existing directory"),
    (["datasets", "--data-dir", "{ws}/a_file"], "is a file, not an existing directory"),
    ([*SEARCH, "--data-dir", "/nonexistent"], "is not an existing directory"),
    ([*SEARCH, "--holdout-size", "0"], "--holdout-size: must be an integer >= 1"),
    ([*SEARCH, "--holdout-size", "200"], "holdout_size (200) needs that many"),  # digits: none left over
    ([*SEARCH, "--holdout-size", "200", "--max-train", "1100"], "121 are left over by max_train=1100. Give a max_train of at most 1021"),
    ([*SEARCH, "--table", "{ws}/table.json.gz", "--holdout-size", "10"], "no use for a holdout split"),
    # benchmark tables: missing, damaged or foreign files; searches that contradict or overrun the table
    (["table", "show", "{ws}/missing.json.gz"], "does not exist"),
    (["table", "show", "{ws}/garbage.json.gz"], "not a readable benchmark table"),
    (["table", "show", "{ws}/foreign.json.gz"], "is not an aebnas benchmark table"),
    ([*SEARCH, "--table", "{ws}/garbage.json.gz"], "not a readable benchmark table"),
    ([*SEARCH, "--table", "{ws}/table.json.gz", "--dataset", "mnist"], "dataset='mnist' (the table's: 'digits')"),
    ([*SEARCH, "--table", "{ws}/table.json.gz", "--space", "paper"], "space='paper' (the table's: 'extended')"),
    ([*SEARCH, "--table", "{ws}/table.json.gz", "--epochs", "9"], "epochs=9 (the table's: 2)"),
    ([*SEARCH, "--table", "{ws}/table.json.gz", "--budget", "100"], "exceeds the 14 architectures"),
    ([*SEARCH, "--table", "{ws}/table.json.gz", "--confirm-top", "1"], "cannot confirm candidates"),
    ([*SEARCH, "--table", "{ws}/table.json.gz", "--executor", "process"], "use the local executor"),
    ([*SEARCH, "--table", "{ws}/table.json.gz", *LATENCY], "records costs in MACs"),
    (["table", "build", "-n", "0", "--out", "{ws}/t.json.gz"], "-n: must be an integer >= 1"),
    (["table", "build", "-n", "3", "--seed-subset", "5", "--out", "{ws}/t.json.gz"], "--seed-subset 5 exceeds -n 3"),
    (["table", "build", "-n", "3", "--out", "{ws}/a_file/t.json.gz"], "a_file is an existing file, not a directory"),
    (["table", "build", "-n", "3", "--out", "{ws}/run_ok"], "is a directory"),
    (["table", "build", "-n", "3", "--epochs", "0", "--out", "{ws}/t.json.gz"], "--epochs: must be an integer >= 1"),
    (["table", "build", "-n", "3", "--rule", "bogus", "--out", "{ws}/t.json.gz"], "unknown exit rule 'bogus'"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(argv).replace("{ws}/", "") for argv, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(ws, capsys, argv, message):
    before = _snapshot(ws)
    code = main([a.format(ws=ws) for a in argv])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("aebnas: error: "), err
    assert message in lines[0]
    assert "Traceback" not in err + out
    assert _snapshot(ws) == before
