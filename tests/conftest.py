"""Fixtures shared across the suite: the embedded digits data, a frozen digits backbone, and a tiny
benchmark table built for real (digits, a few architectures, a noise subset)."""

import shutil

import pytest

from aebnas.datasets import load_dataset

#: the frozen backbone's training in the small searches of the tests (its cache key)
BACKBONE_EPOCHS = 2


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits_backbones(digits, tmp_path_factory):
    """A ``backbones/`` folder holding the digits backbone trained for BACKBONE_EPOCHS epochs with the
    search's other defaults: copied into a run directory (:func:`with_backbones`), a search there loads
    it instead of training it (the same features either way)."""
    from aebnas.engine.search import Search

    run_dir = tmp_path_factory.mktemp("backbone")
    search = Search(run_dir, data=digits, dataset="digits", backbone_epochs=BACKBONE_EPOCHS, device="cpu")
    search.backbone
    search.close()
    return run_dir / "backbones"


def with_backbones(run_dir, backbones):
    """``run_dir`` holding a copy of the cached ``backbones`` folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "backbones").exists():
        shutil.copytree(backbones, run_dir / "backbones")
    return run_dir


#: the tiny table's training settings (a search against it takes them from the table)
TINY_TABLE = dict(dataset="digits", epochs=2, backbone_epochs=BACKBONE_EPOCHS, device="cpu", seed=0)
SIZE, SEEDS, SUBSET = 14, 3, 4


@pytest.fixture(scope="session")
def tiny_table_path(digits_backbones, tmp_path_factory):
    """The table file; its build folder beside it (``t.build/seed-k``) holds every trial's outputs."""
    from aebnas.engine.search import SearchConfig
    from aebnas.engine.search.table_build import build_table

    folder = tmp_path_factory.mktemp("table")
    with_backbones(folder / "t.build" / "seed-0", digits_backbones)
    build_table(folder / "t.json.gz", SearchConfig(**TINY_TABLE), SIZE, SEEDS, SUBSET)
    return folder / "t.json.gz"


@pytest.fixture(scope="session")
def tiny_table(tiny_table_path):
    from aebnas.engine.tables import load_table

    return load_table(tiny_table_path)


@pytest.fixture(scope="session")
def confirmed_run(digits, digits_backbones, tmp_path_factory):
    """A finished small digits search (fast mode, 2 random candidates) with one confirmed candidate."""
    from aebnas.engine.search import Search

    run_dir = with_backbones(tmp_path_factory.mktemp("confirmed-run"), digits_backbones)
    with Search(run_dir, data=digits, dataset="digits", budget=2, batch_size=2, n_init=2, epochs=2, strategy="random",
                backbone_epochs=BACKBONE_EPOCHS, confirm_top=1, confirm_epochs=1, device="cpu") as search:
        search.run()
    return run_dir


@pytest.fixture(scope="session")
def onnx_export(confirmed_run, tmp_path_factory):
    """The run's confirmed candidate exported to ONNX."""
    from aebnas.engine.export import export_run

    out = tmp_path_factory.mktemp("export") / "onnx"
    export_run(confirmed_run, "onnx", out)
    return out
