"""The embedded scikit-learn digits dataset (8x8 grey digits): always available, for tests and quick runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aebnas.datasets._base import DatasetInfo, DatasetSource, RawData
from aebnas.datasets._registry import register_dataset

#: fraction of the 1,797 digits held out as the fixed test split
TEST_FRACTION = 0.2
#: random_state of the fixed test split (independent of the user's seed)
TEST_RANDOM_STATE = 0


class DigitsSource(DatasetSource):
    """scikit-learn's ``load_digits``: 1,797 images, 1 x 8 x 8, 10 classes, pixel values 0..16.

    The test split is a fixed stratified 20% (random_state 0), the same for every seed.
    """

    info = DatasetInfo(name="digits", num_classes=10, input_shape=(1, 8, 8), pixel_max=16.0)
    default_val_size = 0.15  # of the 1,437 train digits: 216
    needs_files = False

    def find_files(self, root: Path) -> dict[str, Path] | None:
        return {}

    def expected(self, root: Path) -> str:
        return "nothing (embedded in scikit-learn)"

    def download(self, root: Path) -> None:
        return None

    def read(self, files: dict[str, Path]) -> RawData:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        # values are integers 0..16; scaling (/16) is irrelevant after per-channel normalisation
        x = digits.data.astype(np.uint8).reshape(-1, 1, 8, 8)
        y = digits.target.astype(np.int64)
        train_idx, test_idx = train_test_split(
            np.arange(len(y)), test_size=TEST_FRACTION, stratify=y, random_state=TEST_RANDOM_STATE
        )
        train_idx.sort()
        test_idx.sort()
        return RawData(x[train_idx], y[train_idx], x[test_idx], y[test_idx])


DIGITS = register_dataset(DigitsSource())
