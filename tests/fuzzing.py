"""Malformed input for gnode's boundaries, as hypothesis strategies, and the property every case must meet: a valid
run, or one line on stderr with exit code 2 and nothing written. Shared by ``test_fuzz.py`` (a few dozen cases per
target) and ``experiments/reliability.py`` (thousands, counted in docs/reliability.md).

The generators draw adversarial values (wrong types, NaN / inf, negative, zero, sizes past 32 bits or past any
memory, empty and nested containers, unknown keys, missing keys) on top of a tiny valid setting, so that the runs
that are valid stay short; large-but-possible sizes (a run of a million epochs) are valid input, not malformed, and
are not drawn.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from gnode.cli.main import main
from gnode.experiment import RunConfig

ADVERSARIAL = [0, -1, 1, 2, -(2**63), 2**31, 2**63, 10**30, 0.5, -0.0, 1e308, -1e308, math.nan, math.inf, -math.inf,
               True, False, "", "two", "ring", "gnode", "1e3", "[1]", "\u00e9\u0000"]  # fmt: skip
LEAF = st.one_of(st.sampled_from(ADVERSARIAL), st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True))
NESTED = st.recursive(
    LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)
# a few dozen trials, ten bins, one epoch: a valid case trains in a second or two
TINY_RUN = {"task": "four_point", "dim": 2, "dynamics": [4], "n_train": 20, "n_val": 10, "steps": 10,
            "batch_size": 10, "epochs": 1}  # fmt: skip
RUN_KEYS = [f.name for f in __import__("dataclasses").fields(RunConfig)]


@st.composite
def run_settings(draw) -> dict:
    """:data:`TINY_RUN` with one to three keys set to adversarial values, removed, or unknown keys added."""
    settings = dict(TINY_RUN)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.one_of(st.sampled_from(RUN_KEYS), st.text(min_size=1, max_size=6)))
        if draw(st.booleans()) and key in settings:
            del settings[key]
        else:
            settings[key] = draw(NESTED)
    return settings


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int | str):
        return json.dumps(value) if isinstance(value, str) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None) + "}"
    raise TypeError(value)


def toml_text(settings: dict) -> str:
    """``settings`` as a TOML file (TOML has no null: a None value leaves its key out)."""
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in settings.items() if v is not None)


@st.composite
def config_files(draw) -> tuple[str, str]:
    """(suffix, text) of a config file: the settings as TOML or JSON, or text that is neither."""
    settings = draw(run_settings())
    kind = draw(st.sampled_from(["toml", "json", "garbage"]))
    if kind == "toml":
        return ".toml", toml_text(settings)
    if kind == "json":
        return ".json", json.dumps(settings)
    return draw(st.sampled_from([".toml", ".json"])), draw(st.text(max_size=40))


BAD_ARGUMENT = st.one_of(
    st.sampled_from(
        ["", "-1", "0", "2147483648", "1e400", "nan", "inf", "-inf", "abc", "1,,2", ",", "-", "--", "[]", "--epochs"]
    ),
    st.text(max_size=6),
)
# values each option may validly take, so that cases also pass the parser and reach gnode's own checks and runs
GOOD_ARGUMENTS = {"--task": ["ring", "square"], "--model": ["node", "gru", "lstm", "rnn"], "--dim": ["1", "3"],
                  "--dynamics": ["", "3,3"], "--gate": ["", "2"], "--activation": ["tanh", "gelu"],
                  "--init": ["critical", "kaiming_normal"], "--initial-state": ["fixed", "zero"],
                  "--lr": ["0.01", "1e308"], "--decay": ["0", "0.5"], "--batch": ["50", "500", "501"],
                  "--epochs": ["2"], "--steps": ["1", "5"], "--hold": ["3"], "--seed": ["7"], "--model-seed": ["1"],
                  "--init-from": [""], "--config": ["nowhere.toml"], "--bogus": ["1"]}  # fmt: skip
TRAIN_OPTIONS = list(GOOD_ARGUMENTS)
TINY_ARGUMENTS = ["--task", "four_point", "--dim", "2", "--dynamics", "4", "--steps", "10", "--epochs", "1",
                  "--batch", "100"]  # fmt: skip


@st.composite
def train_arguments(draw) -> list[str]:
    """``gnode train`` options: the tiny run's, one to three of them (or unknown ones) given malformed values, and
    at times a stray word."""
    arguments = list(TINY_ARGUMENTS)
    for _ in range(draw(st.integers(1, 3))):
        option = draw(st.sampled_from(TRAIN_OPTIONS))
        arguments += [option, draw(st.one_of(BAD_ARGUMENT, st.sampled_from(GOOD_ARGUMENTS[option])))]
    if draw(st.booleans()):
        arguments.insert(draw(st.integers(0, len(arguments))), draw(BAD_ARGUMENT))
    return arguments


CHANGES = ["drop", "rank", "cut", "value", "objects", "text", "empty", "shuffle", "labels"]
ARRAY_VALUES = st.sampled_from([0.0, 1.0, -1.0, math.nan, math.inf, 1e38])


@st.composite
def sequence_arrays(draw) -> dict[str, np.ndarray]:
    """The arrays of a sequences file: a small valid set (inputs, targets, mask, times) with one to three of them
    removed, reshaped, cut, given NaN, objects, strings, zero lengths or shuffled times."""
    samples, time = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    arrays = {
        "inputs": np.zeros((samples, time, 2), np.float32),
        "targets": np.zeros((samples, time, 1), np.float32),
        "mask": np.ones((samples, time), np.float32),
        "times": np.arange(1, time + 1, dtype=np.float32)[None].repeat(samples, 0),
    }
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*arrays, "extra"]))
        change = draw(
            st.sampled_from(["drop", "rank", "cut", "value", "objects", "text", "empty", "shuffle", "labels"])
        )
        old = arrays.get(key, np.zeros((samples, time)))
        if change == "drop":
            arrays.pop(key, None)
        elif change == "rank":
            arrays[key] = old.reshape(*old.shape, 1) if draw(st.booleans()) else old.reshape(-1)
        elif change == "cut":
            arrays[key] = old[: max(0, old.shape[0] - 1)] if old.ndim else old
        elif change == "value" and old.size and old.dtype.kind in "biuf":
            old = np.array(old, dtype=np.float64)
            old.flat[draw(st.integers(0, old.size - 1))] = draw(ARRAY_VALUES)
            arrays[key] = old
        elif change == "objects":
            arrays[key] = np.array([{"a": 1}] * max(1, samples), dtype=object)
        elif change == "text":
            arrays[key] = np.array(["x"] * max(1, samples))
        elif change == "empty":
            arrays[key] = np.zeros((samples, 0, *old.shape[2:]), np.float32)
        elif change == "shuffle" and old.ndim >= 2 and old.shape[1] > 1:
            arrays[key] = old[:, ::-1].copy()
        elif change == "labels":
            arrays[key] = draw(st.sampled_from([np.arange(samples), -np.ones(samples), np.full(samples, 0.5)]))
    return arrays


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` as a user might save it (object arrays pickled inside, which gnode must refuse to load)."""
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def run_cli(arguments: list[str]) -> tuple[int, str]:
    """``gnode *arguments`` in this process: (exit code, stderr). An exception escaping :func:`main` fails the caller
    (that is a traceback a user would see)."""
    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        code = main([str(a) for a in arguments])
    return code, stderr.getvalue()


def assert_valid_run_or_one_line(code: int, stderr: str, out: Path, written: str = "summary.json") -> str:
    """The property: exit 0 with ``out/written`` there, or exit 2 with one line on stderr and ``out`` absent.
    A run that diverged stops in one line too, its folder kept. Returns "run", "refused" or "diverged"."""
    if code == 0:
        assert (out / written).is_file(), f"exit 0 without {written}"
        return "run"
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("gnode: error: "), (code, stderr)
    if "non-finite loss" in lines[0]:  # a valid setting that diverged: the run folder keeps its last good state
        return "diverged"
    assert not out.exists(), f"refused, yet {out} was written: {sorted(p.name for p in out.iterdir())}"
    return "refused"
