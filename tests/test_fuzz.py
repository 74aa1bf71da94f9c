"""Property-based tests of gnode's boundaries (tests/fuzzing.py): config files, ``gnode train`` arguments, sweep
files and sequence data files. Every generated case is a valid run or one line with exit code 2 and nothing
written; never a traceback. The long count: ``python experiments/reliability.py fuzz``."""

import itertools
import json

import fuzzing
import jax.random as jr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnode.data import load_sequences
from gnode.errors import GnodeError
from gnode.model import make_model
from gnode.sweep import read_sweep_file
from gnode.train.objective import SequenceObjective

pytestmark = pytest.mark.bad_input
FEW = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
cases = itertools.count()


@FEW
@given(file=fuzzing.config_files())
def test_config_files_run_or_stop_in_one_line(tmp_path, file):
    suffix, text = file
    case = tmp_path / f"case{next(cases)}"
    case.mkdir()
    (case / f"run{suffix}").write_text(text)
    code, stderr = fuzzing.run_cli(["train", "--config", case / f"run{suffix}", "--out", case / "out", "--no-progress"])
    fuzzing.assert_valid_run_or_one_line(code, stderr, case / "out")


@FEW
@given(arguments=fuzzing.train_arguments())
def test_train_arguments_run_or_stop_in_one_line(tmp_path, arguments):
    out = tmp_path / f"case{next(cases)}"
    code, stderr = fuzzing.run_cli(["train", "--out", out, "--no-progress", *arguments])
    fuzzing.assert_valid_run_or_one_line(code, stderr, out)


@FEW
@given(base=fuzzing.run_settings(), grid=st.dictionaries(st.sampled_from(fuzzing.RUN_KEYS), fuzzing.NESTED, max_size=2))
def test_sweep_files_are_checked_before_anything_runs(tmp_path, base, grid):
    from gnode.experiment import sweep_cells

    path = tmp_path / f"sweep{next(cases)}.toml"
    path.write_text("[base]\n" + fuzzing.toml_text(base) + "[grid]\n" + fuzzing.toml_text(grid))
    try:
        tables = read_sweep_file(path, ("base", "grid"))
        cells = sweep_cells(tables["base"], tables["grid"])
    except GnodeError as error:
        assert len(str(error).splitlines()) == 1
    else:  # every cell is a checked config
        assert cells and all(json.dumps(c) for c in cells)


@FEW
@given(arrays=fuzzing.sequence_arrays())
def test_sequence_files_load_checked_or_stop_in_one_line(tmp_path, arrays):
    path = tmp_path / f"data{next(cases)}.npz"
    fuzzing.write_npz(path, arrays)
    try:
        data = load_sequences(path)
        model = make_model("gnode", 2, 2, 1, flow_widths=(4,), key=jr.key(0))
        SequenceObjective().arrays(model, data, str(path))  # the check fit makes against the model
    except GnodeError as error:
        assert len(str(error).splitlines()) == 1 and str(path) in str(error)
