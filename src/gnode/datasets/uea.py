"""UEA multivariate classification files (``.ts``), parsed by aeon and checked here.

JapaneseVowels ships inside the aeon wheel; CharacterTrajectories (and any other UEA problem) is read from a
directory the user gives, holding ``NAME_TRAIN.ts`` and ``NAME_TEST.ts``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from gnode.errors import DataError
from gnode.optional import optional_import


@dataclasses.dataclass(frozen=True)
class LabelledSeries:
    """Variable-length multivariate series with class labels.

    Attributes:
        series: one ``(length, channels)`` float array per case (NaN where a value is missing).
        labels: ``(cases,)`` int indices into ``classes``.
        classes: the class names, in the order the file declares them.
        source: where the cases came from (a file path), for messages.
    """

    series: list[np.ndarray]
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str

    @property
    def channels(self) -> int:
        return self.series[0].shape[1]


def read_ts(path: str | Path, classes: tuple[str, ...] | None = None) -> LabelledSeries:
    """Read one UEA ``.ts`` classification file.

    Arguments:
        path: the file.
        classes: the class names labels must come from (default: those the file's header declares).
    Returns:
        A :class:`LabelledSeries`.
    Raises:
        DataError: naming the file, when it is missing, not a ``.ts`` classification file, empty,
            ragged across channels, or holds a label outside ``classes``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    datasets = optional_import("aeon.datasets")
    try:
        cases, labels, meta = datasets.load_from_ts_file(str(path), return_meta_data=True)
    except Exception as error:  # aeon raises many kinds on malformed files; report them as one line
        raise DataError(f"{path}: not a readable .ts file ({type(error).__name__}: {error})") from None
    if len(cases) == 0:
        raise DataError(f"{path}: no cases (not a .ts file, or an empty @data section)")
    declared = tuple(str(c) for c in meta.get("class_values") or ())
    if not meta.get("classlabel") or not declared:
        raise DataError(f"{path}: the header declares no class labels (@classLabel true ...)")
    allowed = declared if classes is None else classes
    index = {name: i for i, name in enumerate(allowed)}
    unknown = sorted({str(y) for y in labels} - index.keys())
    if unknown:
        raise DataError(f"{path}: unknown class label(s) {unknown}; expected one of {list(allowed)}")
    series = [np.asarray(case, dtype=np.float64).T for case in cases]  # aeon gives (channels, length)
    return LabelledSeries(series, np.array([index[str(y)] for y in labels], np.int32), tuple(allowed), str(path))


def load_uea(directory: str | Path, name: str) -> tuple[LabelledSeries, LabelledSeries]:
    """``(train, test)`` of UEA problem ``name`` from ``directory/name_TRAIN.ts`` and ``name_TEST.ts``.

    Test labels are checked against the training file's classes, and channel counts must agree.
    """
    directory = Path(directory)
    train = read_ts(directory / f"{name}_TRAIN.ts")
    test = read_ts(directory / f"{name}_TEST.ts", classes=train.classes)
    if test.channels != train.channels:
        raise DataError(f"{test.source}: {test.channels} channels but the training file has {train.channels}")
    return train, test


def japanese_vowels() -> tuple[LabelledSeries, LabelledSeries]:
    """JapaneseVowels (12 channels, lengths 7–29, 9 speakers; 270 train / 370 test), the files aeon ships."""
    datasets = optional_import("aeon.datasets")
    return load_uea(Path(datasets.__file__).parent / "data" / "JapaneseVowels", "JapaneseVowels")


def character_trajectories(directory: str | Path) -> tuple[LabelledSeries, LabelledSeries]:
    """CharacterTrajectories (3 channels: x, y, pen force; 20 letters) from a directory of UEA ``.ts`` files."""
    return load_uea(directory, "CharacterTrajectories")
