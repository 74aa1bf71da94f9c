"""Keyword audio: the Speech Commands directory layout, a synthetic espeak-ng stand-in, and MFCC features.

The real data set (``ROOT/<keyword>/<clip>.wav``, 16 kHz, one second) cannot be downloaded here, so
:func:`synthesize_keywords` writes the ten keywords spoken by espeak-ng (Debian package ``espeak-ng``) in the
same layout, across voices, speeds and pitches; every number measured on it is labelled *synthetic*.
Features follow the Neural CDE protocol: 20 MFCCs (``n_fft=200``, hop 100, 64 mel bands) → 161 frames.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from jaxtyping import Float, Int

from gnode.data import SequenceData
from gnode.datasets.irregular import stratified_split
from gnode.errors import ConfigError, DataError
from gnode.optional import optional_import

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SAMPLE_RATE = 16_000
VOICES = ("m1", "m3", "m7", "f1", "f2", "f4", "croak", "klatt", "whisper")
SPEEDS = (120, 160, 200)
PITCHES = (30, 50, 70)


def read_wav(path: Path, sample_rate: int = SAMPLE_RATE) -> Float[np.ndarray, " samples"]:
    """A mono float waveform in [-1, 1] at ``sample_rate`` (resampled when the file differs)."""
    from scipy.io import wavfile

    try:
        rate, audio = wavfile.read(path)
    except Exception as error:
        raise DataError(f"{path}: not a readable WAV file ({type(error).__name__}: {error})") from None
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max)
    audio = np.asarray(audio, np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if audio.size == 0 or not np.isfinite(audio).all():
        raise DataError(f"{path}: empty audio or non-finite samples")
    if rate != sample_rate:
        audio = optional_import("librosa").resample(audio, orig_sr=rate, target_sr=sample_rate)
    return audio


def read_speech_commands(
    root: str | Path, keywords: Sequence[str] = KEYWORDS, sample_rate: int = SAMPLE_RATE
) -> tuple[list[Float[np.ndarray, " _samples"]], Int[np.ndarray, " batch"]]:
    """Waveforms and label indices (into ``keywords``) from ``root/<keyword>/*.wav``.

    Folders of other words (and ``_background_noise_``) are ignored, as in the 10-keyword task.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such directory (expected ROOT/<keyword>/*.wav)")
    waves, labels = [], []
    for label, word in enumerate(keywords):
        folder = root / word
        files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
        if not files:
            raise DataError(f"{folder}: no WAV files for keyword {word!r}")
        for path in files:
            waves.append(read_wav(path, sample_rate))
            labels.append(label)
    return waves, np.asarray(labels, np.int32)


def synthesize_keywords(
    root: str | Path,
    keywords: Sequence[str] = KEYWORDS,
    voices: Sequence[str] = VOICES,
    speeds: Sequence[int] = SPEEDS,
    pitches: Sequence[int] = PITCHES,
) -> Path:
    """Write ``root/<word>/<word>_<voice>_<speed>_<pitch>.wav`` with espeak-ng (existing files are kept)."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise ConfigError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    root = Path(root)
    for word in keywords:
        (root / word).mkdir(parents=True, exist_ok=True)
        for voice in voices:
            for speed in speeds:
                for pitch in pitches:
                    path = root / word / f"{word}_{voice}_{speed}_{pitch}.wav"
                    if path.exists():
                        continue
                    tmp = path.with_name(f".{path.name}.tmp")
                    command = [binary, "-v", f"en-us+{voice}", "-s", str(speed), "-p", str(pitch), "-w", str(tmp), word]
                    subprocess.run(command, check=True, capture_output=True)
                    tmp.replace(path)
    return root


def augment(
    waves: list[Float[np.ndarray, " _samples"]],
    rng: np.random.Generator,
    *,
    shift: float,
    snr_db: float,
    length: int = SAMPLE_RATE,
) -> Float[np.ndarray, "batch length"]:
    """Clips ``(n, length)``: each placed at a random offset (up to ``shift`` of the spare room either side of
    centre), zero-padded or cropped, plus white noise at ``snr_db`` dB below the clip's power."""
    out = np.zeros((len(waves), length), np.float32)
    for i, wave in enumerate(waves):
        wave = wave[:length]
        room = length - wave.size
        start = room // 2 + int(rng.integers(-int(shift * room / 2), int(shift * room / 2) + 1)) if room else 0
        out[i, start : start + wave.size] = wave
        power = np.mean(wave**2) + 1e-12
        out[i] += rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), length).astype(np.float32)
    return out


def mfcc(
    clips: Float[np.ndarray, "batch samples"], sample_rate: int = SAMPLE_RATE, n_mfcc: int = 20
) -> Float[np.ndarray, "batch time inp"]:
    """MFCCs ``(n, frames, n_mfcc)`` with the Neural CDE settings (161 frames for one second at 16 kHz)."""
    librosa = optional_import("librosa")
    features = librosa.feature.mfcc(y=clips, sr=sample_rate, n_mfcc=n_mfcc, n_fft=200, hop_length=100, n_mels=64)
    return np.swapaxes(features, -1, -2).astype(np.float32)


def keyword_features(
    waves: list[Float[np.ndarray, " _samples"]],
    labels: Int[np.ndarray, " batch"],
    *,
    seed: int = 0,
    shift: float = 0.8,
    snr_db: float = 10.0,
    split: tuple[float, float, float] = (0.70, 0.15, 0.15),
) -> dict[str, SequenceData]:
    """Train / validation / test MFCC sequences (stratified split; channel statistics from train; a time
    channel in [0, 1] appended). ``shift`` and ``snr_db`` set the one-off random placement and noise."""
    if len(waves) != len(labels) or not waves:
        raise DataError(f"{len(waves)} waveforms for {len(labels)} labels")
    rng = np.random.default_rng(seed)
    features = mfcc(augment(waves, rng, shift=shift, snr_db=snr_db))
    rest, test = stratified_split(labels, split[2], seed)
    train, val = stratified_split(labels[rest], split[1] / (split[0] + split[1]), seed)
    train, val = rest[train], rest[val]
    mean = features[train].mean(axis=(0, 1))
    std = features[train].std(axis=(0, 1)) + 1e-6
    clock = np.broadcast_to(
        np.linspace(0.0, 1.0, features.shape[1], dtype=np.float32)[None, :, None], (*features.shape[:2], 1)
    )
    inputs = np.concatenate([(features - mean) / std, clock], axis=-1).astype(np.float32)
    return {
        name: SequenceData(inputs[index], labels[index])
        for name, index in (("train", train), ("val", val), ("test", test))
    }
