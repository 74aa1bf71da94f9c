"""Storable sets: the values a memory task asks a network to hold, for comparing with the slow set it learned.

Each set knows its intrinsic dimension and draws a deterministic, evenly spread sample of itself
(a grid or equally spaced angles), so that coverage and shape distances do not depend on a seed.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import math

import numpy as np
from jaxtyping import Float

from gnode.errors import ConfigError


class StorableSet(abc.ABC):
    """A set of values in readout space."""

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Dimension of the readout space the set lives in."""

    @property
    @abc.abstractmethod
    def dimension(self) -> int:
        """Intrinsic dimension (0 for points, 1 for a circle, ...)."""

    @abc.abstractmethod
    def sample(self, count: int) -> Float[np.ndarray, "count out"]:
        """About ``count`` evenly spread points of the set, ``(M, dim)`` float64 (all of them for a finite set)."""

    @abc.abstractmethod
    def describe(self) -> str: ...

    @abc.abstractmethod
    def diameter(self) -> float:
        """Largest distance between two points of the set."""


@dataclasses.dataclass(frozen=True)
class Points(StorableSet):
    """A finite set of points, e.g. the corners of a cube."""

    points: tuple[tuple[float, ...], ...]

    @property
    def dim(self) -> int:
        return len(self.points[0])

    @property
    def dimension(self) -> int:
        return 0

    def sample(self, count: int) -> Float[np.ndarray, "count out"]:
        return np.asarray(self.points, np.float64)

    def diameter(self) -> float:
        p = np.asarray(self.points, np.float64)
        return float(np.max(np.linalg.norm(p[:, None] - p[None], axis=-1)))

    def describe(self) -> str:
        return f"{len(self.points)} points"

    @classmethod
    def corners(cls, half_widths: tuple[float, ...]) -> Points:
        return cls(
            tuple(
                tuple(s * w for s, w in zip(signs, half_widths, strict=True))
                for signs in itertools.product((-1.0, 1.0), repeat=len(half_widths))
            )
        )


@dataclasses.dataclass(frozen=True)
class Box(StorableSet):
    """The filled box ``[-a_1, a_1] x ... x [-a_D, a_D]``."""

    half_widths: tuple[float, ...]

    @property
    def dim(self) -> int:
        return len(self.half_widths)

    @property
    def dimension(self) -> int:
        return len(self.half_widths)

    def sample(self, count: int) -> Float[np.ndarray, "count out"]:
        per_axis = max(2, math.ceil(count ** (1.0 / self.dim)))
        axes = [np.linspace(-a, a, per_axis) for a in self.half_widths]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, self.dim)

    def diameter(self) -> float:
        return 2.0 * float(np.linalg.norm(self.half_widths))

    def describe(self) -> str:
        return "box " + " x ".join(f"[-{a:g},{a:g}]" for a in self.half_widths)


@dataclasses.dataclass(frozen=True)
class Annulus(StorableSet):
    """The planar annulus ``inner <= |v| <= outer``; ``inner == outer`` is the circle of that radius."""

    inner: float
    outer: float

    def __post_init__(self):
        if not 0 <= self.inner <= self.outer:
            raise ConfigError(f"annulus radii must satisfy 0 <= inner <= outer, got {self.inner}, {self.outer}")

    @property
    def dim(self) -> int:
        return 2

    @property
    def dimension(self) -> int:
        return 1 if self.inner == self.outer else 2

    def sample(self, count: int) -> Float[np.ndarray, "count out"]:
        if self.dimension == 1:
            theta = 2 * np.pi * np.arange(count) / count
            return self.outer * np.stack([np.cos(theta), np.sin(theta)], axis=1)
        # a square grid clipped to the annulus, dense enough for about ``count`` points inside
        area_fraction = np.pi * (self.outer**2 - self.inner**2) / (2 * self.outer) ** 2
        per_axis = max(2, math.ceil(math.sqrt(count / area_fraction)))
        axis = np.linspace(-self.outer, self.outer, per_axis)
        grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
        radius = np.linalg.norm(grid, axis=1)
        return grid[(radius >= self.inner) & (radius <= self.outer)]

    def diameter(self) -> float:
        return 2.0 * self.outer

    def describe(self) -> str:
        if self.dimension == 1:
            return f"circle of radius {self.outer:g}"
        return f"annulus {self.inner:g} <= |v| <= {self.outer:g}"


def circle(radius: float) -> Annulus:
    return Annulus(radius, radius)
