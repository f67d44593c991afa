import json

import pytest

from aebnas.cli import main, parse_macs
from aebnas.exceptions import AebnasError

FAST = ["--epochs", "2", "--seed", "0", "--device", "cpu"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err):
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith("aebnas: error:")


def test_space_sample_prints_architectures_with_macs(capsys, tmp_path):
    code, out, _ = run(capsys, "space", "sample", "--preset", "paper", "-n", "2", "--dataset", "digits")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 2
    assert all(len(r["path_macs"]) == len(r["arch"]["exits"]) + 1 for r in rows)
    (tmp_path / "arch.json").write_text(json.dumps(rows[0]["arch"]))
    code, out, _ = run(capsys, "macs", str(tmp_path / "arch.json"), "--dataset", "digits")
    assert code == 0 and str(rows[0]["path_macs"][-1]) in out


def test_train_then_tune_without_retraining(capsys, tmp_path):
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"backbone": "digits_cnn", "exits": [{"position": 2, "branch": [{"type": "conv"}]}]}))
    out_dir = tmp_path / "cand"
    code, out, _ = run(capsys, "train", str(arch), "--mode", "fast", "--backbone-epochs", "2", "--target-macs", "70%",
                       "--cache-dir", str(tmp_path / "cache"), "--out", str(out_dir), *FAST)
    assert code == 0 and "tuned for target" in out
    assert {p.name for p in out_dir.iterdir()} >= {"arch.json", "model.pt", "outputs.pt", "result.json", "tradeoff.png"}
    saved = json.loads((out_dir / "result.json").read_text())
    code, out, _ = run(capsys, "tune", str(out_dir), "--target-macs", "80%")
    target = 0.8 * saved["summary"]["path_macs"][-1]
    assert code == 0 and f"tuned for target {target:,.0f} average MACs" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (["val"], ["test"])}
    assert float(rows["val"][2].replace(",", "")) <= target  # tuned on validation within the target
    code, _, err = run(capsys, "tune", str(out_dir), "--target-macs", "1")
    assert code == 2 and one_line_error(err) and "unreachable" in err


def test_search_report_and_predictors(capsys, tmp_path):
    run_dir = str(tmp_path / "run")
    args = ["search", "--run-dir", run_dir, "--budget", "6", "--batch-size", "3", "--n-init", "3", "--pool-size", "30",
            "--backbone-epochs", "2", "--confirm-top", "1", "--confirm-epochs", "1", "--quiet", *FAST]
    code, out, _ = run(capsys, *args)
    assert code == 0 and "validation front" in out and "confirmed" in out
    code, out, err = run(capsys, *args)  # the same command again resumes: nothing left to train
    assert code == 0 and "6 trials stored" in err
    code, _, err = run(capsys, *[a if a != "2" else "3" for a in args])  # other epochs: refused
    assert code == 2 and "different config" in err
    code, out, _ = run(capsys, "report", run_dir)
    assert code == 0 and "hypervolume" in out
    predictor = str(tmp_path / "p.json")
    code, out, _ = run(capsys, "predictors", "fit", "--run", run_dir, "--kind", "xgboost", "--out", predictor)
    assert code == 0
    code, out, _ = run(capsys, "predictors", "show", predictor)
    assert code == 0 and json.loads(out)["metadata"]["space"]["preset"] == "extended"
    code, out, _ = run(capsys, "predictors", "evaluate", "--run", run_dir, "--kind", "gp", "--folds", "3")
    assert code == 0 and "tau_at_macs_budget" in out


def test_parse_macs():
    assert parse_macs("17M") == 17e6 and parse_macs("250k") == 250e3 and parse_macs("3e6") == 3e6
    assert parse_macs("50%", full_cost=1000) == 500
    with pytest.raises(AebnasError):
        parse_macs("50%")
