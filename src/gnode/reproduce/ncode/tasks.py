"""The N-CODE experiments' data: toy maps a neural ODE cannot represent, and scikit-learn's 8 x 8 digits.

Sizes and radii of the toy tasks were not found in the paper (ncode.md §3.1); these follow Dupont et al. (2019)
and are parameters.
"""

from __future__ import annotations

import numpy as np

from gnode.data import ArrayData
from gnode.errors import ConfigError


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([0x2C0DE, seed]))


def reflection(samples: int = 256, seed: int = 0) -> ArrayData:
    """``x ~ U[-1, 1]``, target ``-x``: a 1-D flow is increasing, so a neural ODE's best fit is 0 (MSE 1/3)."""
    if samples <= 0:
        raise ConfigError(f"samples must be positive, got {samples}")
    x = _rng(seed).uniform(-1.0, 1.0, (samples, 1)).astype(np.float32)
    return ArrayData(x, -x)


def reflection_grid(points: int = 101) -> ArrayData:
    """The test grid of the reflection: ``points`` equally spaced ``x`` in [-1, 1]."""
    x = np.linspace(-1.0, 1.0, points, dtype=np.float32)[:, None]
    return ArrayData(x, -x)


def annulus(
    samples: int = 256, dim: int = 1, radii: tuple[float, float, float] = (0.5, 1.0, 1.5), seed: int = 0
) -> ArrayData:
    """Points inside radius ``r1`` (target +1) and in the shell ``r2 <= |x| <= r3`` (target -1), half of each.

    In 1-D the shell is two intervals around the inner one, so an increasing map followed by an affine readout
    misclassifies one of them (accuracy at most 75 %). Points are uniform in the volume of each region.

    Arguments:
        samples: the number of points; dim: 1 or 2; radii: ``r1 < r2 < r3``; seed: the draw.
    Returns:
        ArrayData with inputs ``(samples, dim)`` and targets ``(samples, 1)`` in {+1, -1}.
    """
    r1, r2, r3 = radii
    if not 0 < r1 < r2 < r3:
        raise ConfigError(f"radii must satisfy 0 < r1 < r2 < r3, got {radii}")
    if dim not in (1, 2) or samples < 2:
        raise ConfigError(f"annulus needs dim 1 or 2 and at least 2 samples, got dim {dim}, samples {samples}")
    rng = _rng(seed)
    inner = rng.permutation(samples) < samples // 2
    u = rng.uniform(size=samples)
    # uniform in volume: r^dim uniform between the region's bounds
    lo, hi = np.where(inner, 0.0, r2**dim), np.where(inner, r1**dim, r3**dim)
    radius = (lo + u * (hi - lo)) ** (1.0 / dim)
    if dim == 1:
        direction = rng.choice([-1.0, 1.0], size=(samples, 1))
    else:
        angle = rng.uniform(0, 2 * np.pi, samples)
        direction = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = (radius[:, None] * direction).astype(np.float32)
    y = np.where(inner, 1.0, -1.0)[:, None].astype(np.float32)
    return ArrayData(x, y)


def sign_accuracy(pred: np.ndarray, targets: np.ndarray) -> float:
    """Accuracy of ``sign(pred)`` against targets in {+1, -1}."""
    return float(np.mean(np.sign(np.asarray(pred)).ravel() == np.asarray(targets).ravel()))


def digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2) -> tuple[ArrayData, ...]:
    """scikit-learn's 1,797 8 x 8 digits (shipped with the package), pixels scaled to [0, 1], flattened to 64.

    Returns:
        ``(train, val, test)``, split stratified by class with ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(f"need 0 < fractions and val + test < 1, got {val_fraction}, {test_fraction}")
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int32)
    index = np.arange(len(y))
    rest, test = train_test_split(index, test_size=test_fraction, stratify=y, random_state=seed)
    train, val = train_test_split(
        rest, test_size=val_fraction / (1 - test_fraction), stratify=y[rest], random_state=seed
    )
    return tuple(ArrayData(x[i], y[i]) for i in (train, val, test))


def mnist(path, seed: int = 0, val_fraction: float = 1 / 6) -> tuple[ArrayData, ...]:
    """MNIST from a user's file (:func:`gnode.datasets.mnist.read_mnist`), pixels in [0, 1], flattened to 784.

    Returns:
        ``(train, val, test)``: the file's own validation split if it has one, else ``val_fraction`` of the
        training images (stratified by class, ``seed``).
    """
    from sklearn.model_selection import train_test_split

    from gnode.datasets.mnist import read_mnist

    splits = read_mnist(path)
    if "val" not in splits:
        x, y = splits["train"]
        train, val = train_test_split(np.arange(len(y)), test_size=val_fraction, stratify=y, random_state=seed)
        splits = {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": splits["test"]}
    return tuple(ArrayData(*splits[name]) for name in ("train", "val", "test"))
