"""Task generators returning :class:`gnode.data.SequenceData`."""

from gnode.tasks.flipflop import FLIPFLOP_TASKS, FlipFlopSpec, flipflop_trials, make_flipflop
from gnode.tasks.storable import Annulus, Box, Points, StorableSet, circle

TASKS = tuple(FLIPFLOP_TASKS)

__all__ = [
    "FLIPFLOP_TASKS",
    "TASKS",
    "Annulus",
    "Box",
    "FlipFlopSpec",
    "Points",
    "StorableSet",
    "circle",
    "flipflop_trials",
    "make_flipflop",
]
