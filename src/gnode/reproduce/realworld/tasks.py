"""The benchmark tasks: each builds train / validation / test :class:`~gnode.data.SequenceData` and says how to
score them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gnode.data import SequenceData
from gnode.datasets import irregular, speech, uea, walker
from gnode.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class RealTask:
    """A benchmark's data and scoring.

    Attributes:
        name: the task name as the CLI spells it; title: a table heading (says *synthetic* where it is).
        splits: ``train``, ``val`` and ``test`` data.
        loss: ``cross_entropy`` (classification from the last observed state) or ``mse`` (every step).
        output_dim: classes or predicted channels.
        details: what a reader needs to know about the data (sizes, protocol), for the report.
    """

    name: str
    title: str
    splits: dict[str, SequenceData]
    loss: str
    output_dim: int
    details: dict

    @property
    def input_dim(self) -> int:
        return self.splits["train"].inputs.shape[-1]


def _sizes(splits: dict[str, SequenceData]) -> dict:
    return {name: list(data.inputs.shape) for name, data in splits.items()}


def japanese_vowels(drop: float = 0.3, seed: int = 0) -> RealTask:
    train, test = uea.japanese_vowels()
    return _irregular_task("japanese-vowels", "JapaneseVowels", train, test, drop, seed)


def character_trajectories(data_dir: str | Path, drop: float = 0.3, seed: int = 0) -> RealTask:
    train, test = uea.character_trajectories(data_dir)
    return _irregular_task("character-trajectories", "CharacterTrajectories", train, test, drop, seed)


def _irregular_task(name, title, train, test, drop, seed) -> RealTask:
    splits = irregular.irregular_classification(train, test, drop=drop, seed=seed)
    details = {"dropped": drop, "classes": len(train.classes), "shapes": _sizes(splits), "source": train.source}
    return RealTask(
        name, f"{title}, {round(100 * drop)} % of points dropped", splits, "cross_entropy", len(train.classes), details
    )


def walker2d(cache: str | Path, seed: int = 0, episodes: int = 40) -> RealTask:
    config = walker.WalkerConfig(episodes=episodes, seed=seed)
    splits = walker.walker_kinematics(walker.walker_trajectories(cache, config), seed=seed)
    details = {"simulation": dataclasses.asdict(config), "shapes": _sizes(splits), "keep": 0.9, "window": 64}
    return RealTask("walker2d", "Walker2d kinematics (simulated locally)", splits, "mse", walker.STATE_DIM, details)


def keywords(data_dir: str | Path | None, seed: int = 0, synthetic_dir: str | Path | None = None) -> RealTask:
    """Speech Commands from ``data_dir``; or, when it is None, the espeak-ng stand-in written to ``synthetic_dir``."""
    synthetic = data_dir is None
    if synthetic:
        if synthetic_dir is None:
            raise ConfigError("the synthetic keyword task needs a directory to write its clips to")
        data_dir = speech.synthesize_keywords(synthetic_dir)
    waves, labels = speech.read_speech_commands(data_dir)
    splits = speech.keyword_features(waves, labels, seed=seed)
    title = "Keywords, SYNTHETIC (espeak-ng)" if synthetic else "Speech Commands, 10 keywords"
    details = {"synthetic": synthetic, "clips": len(waves), "shapes": _sizes(splits), "source": str(data_dir)}
    return RealTask("keywords", title, splits, "cross_entropy", len(speech.KEYWORDS), details)


TASKS = ("japanese-vowels", "character-trajectories", "walker2d", "keywords")
