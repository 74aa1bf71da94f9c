"""Loaders of real data sets, each returning plain arrays (:class:`gnode.data.SequenceData` or series lists).

- :mod:`~gnode.datasets.uea`: UEA ``.ts`` files (JapaneseVowels as shipped by aeon, CharacterTrajectories from a path).
- :mod:`~gnode.datasets.irregular`: per-series random drop of time points, time channel, padding and masks.
- :mod:`~gnode.datasets.walker`: Walker2d kinematics simulated with MuJoCo, cut into irregular windows.
- :mod:`~gnode.datasets.speech`: the Speech Commands layout, a synthetic espeak-ng stand-in, and MFCC features.
- :mod:`~gnode.datasets.mnist`: MNIST from the user's IDX files or pickled split (nothing is downloaded).

The optional dependencies (``pip install 'gnode[real]'``) are imported only when a loader runs.
"""
