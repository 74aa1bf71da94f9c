import shutil

import numpy as np
import pytest
from scipy.io import wavfile

from gnode.datasets import speech
from gnode.errors import DataError

WORDS = ("yes", "no", "up")


def tone_folder(root, clips=6, rate=16_000):
    """A Speech Commands layout: one pitch per keyword, some clips at 8 kHz and in int16, like the real files."""
    rng = np.random.default_rng(0)
    for label, word in enumerate(WORDS):
        (root / word).mkdir(parents=True)
        for i in range(clips):
            sr = rate if i % 2 else 8_000
            t = np.arange(int(sr * rng.uniform(0.4, 0.9))) / sr
            wave = 0.5 * np.sin(2 * np.pi * 300 * (label + 1) * t)
            wavfile.write(root / word / f"clip{i}.wav", sr, (wave * 32767).astype(np.int16))
    (root / "_background_noise_").mkdir()
    return root


def test_reads_keyword_folders_as_labelled_16khz_mono(tmp_path):
    waves, labels = speech.read_speech_commands(tone_folder(tmp_path), WORDS)
    assert labels.tolist() == [0] * 6 + [1] * 6 + [2] * 6
    assert all(w.dtype == np.float32 and np.abs(w).max() <= 1.0 for w in waves)
    spectrum = np.abs(np.fft.rfft(waves[1], 16_000))  # a 16 kHz clip of 'yes': 300 Hz, 1 Hz bins
    assert np.argmax(spectrum) == 300
    resampled = np.abs(np.fft.rfft(waves[0], 16_000))  # an 8 kHz file resampled to 16 kHz keeps its pitch
    assert abs(np.argmax(resampled) - 300) <= 1


def test_bad_layouts_and_files_give_one_line_errors_naming_them(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        speech.read_speech_commands(tmp_path / "absent", WORDS)
    root = tone_folder(tmp_path / "data")
    shutil.rmtree(root / "up")
    with pytest.raises(DataError, match=r"data/up: no WAV files for keyword 'up'"):
        speech.read_speech_commands(root, WORDS)
    (root / "up").mkdir()
    (root / "up" / "broken.wav").write_bytes(b"RIFF....garbage")
    with pytest.raises(DataError, match=r"up/broken.wav: not a readable WAV file"):
        speech.read_speech_commands(root, WORDS)


def test_augmentation_places_clips_in_one_second_with_the_asked_noise():
    wave = np.ones(4_000, np.float32)
    clips = speech.augment([wave] * 200, np.random.default_rng(0), shift=0.8, snr_db=120.0)
    assert clips.shape == (200, 16_000)
    starts = np.argmax(clips > 0.5, axis=1)
    room = 12_000  # spare samples; starts lie within 0.8 of the half-room around the centre
    assert np.abs(starts - room // 2).max() <= 0.4 * room and np.ptp(starts) > 0.6 * room
    centred = speech.augment([wave] * 50, np.random.default_rng(0), shift=0.0, snr_db=10.0)
    assert np.all(centred[:, 6_000:10_000].mean(axis=1) > 0.9)  # shift 0: the clip sits in the middle
    assert abs(centred[:, :6_000].std() - np.sqrt(0.1)) < 0.01  # noise 10 dB below the clip's unit power


def test_features_follow_the_neural_cde_shape_and_split(tmp_path):
    waves, labels = speech.read_speech_commands(tone_folder(tmp_path, clips=20), WORDS)
    splits = speech.keyword_features(waves, labels, seed=0)
    sizes = {k: v.num_samples for k, v in splits.items()}
    assert sizes == {"train": 42, "val": 9, "test": 9}
    for data in splits.values():
        assert data.inputs.shape[1:] == (161, 21) and np.isfinite(data.inputs).all()
        np.testing.assert_allclose(data.inputs[0, :, -1], np.linspace(0, 1, 161), rtol=1e-6)
        assert np.bincount(data.targets, minlength=3).min() >= 3  # stratified
    np.testing.assert_allclose(splits["train"].inputs[..., :-1].mean(axis=(0, 1)), 0.0, atol=1e-4)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="Debian's espeak-ng is not installed")
def test_synthetic_keywords_are_written_in_the_speech_commands_layout(tmp_path):
    root = speech.synthesize_keywords(tmp_path, keywords=("yes", "go"), voices=("m1",), speeds=(160,), pitches=(30, 70))
    waves, labels = speech.read_speech_commands(root, ("yes", "go"))
    assert labels.tolist() == [0, 0, 1, 1] and all(0.2 < w.size / 16_000 < 1.0 for w in waves)
    assert not np.array_equal(waves[0][:1000], waves[1][:1000])  # two pitches differ
