"""Start-up and the public API: ``import aebnas`` and the light commands load no heavy library, every
public name resolves, and the layering contracts hold (import-linter, as CI runs it)."""

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import aebnas

ROOT = Path(__file__).resolve().parents[1]


def loaded_after(code: str) -> set[str]:
    """Top-level modules loaded by a fresh interpreter after running ``code``."""
    probe = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_import_aebnas_loads_no_heavy_library():
    assert not loaded_after("import aebnas") & {"torch", "botorch", "xgboost", "torchvision", "numpy", "timm"}


@pytest.mark.parametrize("argv, heavy", [
    (["--help"], {"torch", "numpy"}),
    (["search", "--help"], set()),  # the search's flags list its registries: it may load everything
    (["datasets"], {"torch", "botorch", "xgboost"}),
    (["space", "sample", "-n", "1"], {"botorch", "xgboost", "gpytorch", "pymoo", "timm"}),  # timm: only for timm:NAME
])
def test_commands_load_only_what_they_use(argv, heavy):
    code = f"from aebnas.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert not loaded_after(code) & heavy


def test_every_public_name_resolves():
    for name in aebnas.__all__:
        assert getattr(aebnas, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        aebnas.Nope  # noqa: B018
    assert aebnas.Search is importlib.import_module("aebnas.engine.search").Search


@pytest.mark.skipif(shutil.which("lint-imports", path=str(Path(sys.executable).parent)) is None,
                    reason="import-linter is not installed (pip install -e '.[test]')")
def test_layering_contracts_hold():
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
