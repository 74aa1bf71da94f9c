import numpy as np
import pytest
from scipy.io import wavfile

from gnode.datasets.speech import KEYWORDS
from gnode.datasets.walker import STATE_DIM
from gnode.errors import ConfigError
from gnode.reproduce.realworld import tasks


def test_japanese_vowels_task_has_the_protocol_shapes():
    task = tasks.japanese_vowels(drop=0.5)
    assert task.loss == "cross_entropy" and task.output_dim == 9 and task.input_dim == 13  # 12 + time
    sizes = {k: v.num_samples for k, v in task.splits.items()}
    assert sizes == {"train": 229, "val": 41, "test": 370}
    assert task.splits["train"].mask.sum(axis=1).max() == 13  # the longest training series: 26 points, 13 kept
    assert task.splits["test"].inputs.shape[1] == 15  # the longest test series: 29 points, 15 kept
    assert "50 % of points dropped" in task.title


def test_keywords_task_reads_a_speech_commands_folder(tmp_path):
    rng = np.random.default_rng(0)
    for label, word in enumerate(KEYWORDS):
        (tmp_path / word).mkdir()
        for i in range(7):
            wave = np.sin(2 * np.pi * 200 * (label + 1) * np.arange(8_000) / 16_000) + 0.1 * rng.normal(size=8_000)
            wavfile.write(tmp_path / word / f"{i}.wav", 16_000, (0.3 * wave * 32767).astype(np.int16))
    task = tasks.keywords(tmp_path)
    assert task.output_dim == 10 and task.input_dim == 21 and not task.details["synthetic"]
    assert sum(d.num_samples for d in task.splits.values()) == 70 and "SYNTHETIC" not in task.title
    with pytest.raises(ConfigError, match="directory to write"):
        tasks.keywords(None)


def test_walker_task_predicts_the_next_state(tmp_path):
    task = tasks.walker2d(tmp_path / "walker.npz", episodes=7)
    assert task.loss == "mse" and task.output_dim == STATE_DIM and task.input_dim == STATE_DIM + 1
    assert (tmp_path / "walker.npz").exists()
    assert {k: v.inputs.shape[1] for k, v in task.splits.items()} == {"train": 64, "val": 64, "test": 64}
