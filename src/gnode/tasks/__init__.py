"""Task generators returning :class:`gnode.data.SequenceData`."""

from gnode.tasks.flipflop import FLIPFLOP_TASKS, FlipFlopSpec, flipflop_trials, make_flipflop

TASKS = tuple(FLIPFLOP_TASKS)

__all__ = ["FLIPFLOP_TASKS", "TASKS", "FlipFlopSpec", "flipflop_trials", "make_flipflop"]
