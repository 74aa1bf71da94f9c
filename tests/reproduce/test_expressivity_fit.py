import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.reproduce.expressivity.fit import FitCell, fit_group, group_key
from gnode.sweep import expand_grid

pytestmark = pytest.mark.claims  # trains to a result the paper reports (still runs in CI)

SMALL = dict(dim=3, depth=1, width=16, iterations=100, evaluate_every=50, steps=50)


def test_a_group_gives_what_separate_fits_give():
    cells = [*expand_grid(SMALL, {"knots": [2, 4], "seed": [0, 1], "lr": [0.01]}), {**SMALL, "lr": 0.003}]
    assert len({group_key(c) for c in cells}) == 1
    together = fit_group(cells)
    for cell, row in zip(cells, together, strict=True):
        (alone,) = fit_group([cell])
        np.testing.assert_allclose(row["r2"], alone["r2"], atol=2e-3)
    assert len({round(r["r2"], 5) for r in together}) == len(cells)


def test_capacity_needs_dimension_and_a_flow_network():
    # a 2-D linear ODE (nODE with affine F) traces a spiral: a curve through 8 random points is out of reach;
    # a 8-D gnODE with a hidden layer fits it
    cell = dict(knots=8, steps=100, iterations=1500, lr=1e-2)
    (linear,) = fit_group([{**cell, "model": "node", "dim": 2, "depth": 0}])
    (rich,) = fit_group([{**cell, "model": "gnode", "dim": 8, "depth": 1, "width": 64}])
    assert linear["r2"] < 0.6 < 0.95 < rich["r2"]


def test_one_name_per_distinct_model():
    cell = FitCell.from_dict({"model": "node", "depth": 0, "width": 128, "gate_depth": 1, "gate_width": 8})
    assert (cell.width, cell.gate_depth, cell.gate_width) == (0, 0, 0)
    assert FitCell.from_dict({"depth": 2, "width": 32}).width == 32


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"model": "gru"}, "unknown model"),
        ({"layers": 2}, "unknown expressivity settings"),
        ({"dim": 0}, "must be positive"),
        ({"depth": 1, "width": 0}, "positive width"),
        ({"iterations": 120, "evaluate_every": 50}, "multiple of"),
        ({"kind": "fourier"}, "unknown target kind"),
    ],
)
def test_bad_cells(values, message):
    with pytest.raises(ConfigError, match=message):
        FitCell.from_dict(values)
