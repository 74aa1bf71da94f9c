import math

import pytest

from gnode.reproduce.expressivity.capacity import capacity, capacity_table


def test_capacity_ignores_a_lucky_pass_and_interpolates_in_log_k():
    grid, interpolated = capacity({2: 1.0, 4: 0.95, 8: 0.85, 16: 0.95}, 0.9)
    assert grid == 4
    assert interpolated == pytest.approx(4 * math.sqrt(2))  # halfway from 0.95 to 0.85, halfway in log K


def test_capacity_when_everything_or_nothing_passes():
    assert capacity({2: 0.95, 4: 0.99}, 0.9) == (4, 4.0)
    assert capacity({2: 0.5, 4: 0.99}, 0.9) == (0, 0.0)


def test_table_takes_the_best_lr_per_fit_then_the_median_over_seeds():
    model = dict(model="gnode", dim=2, depth=1, width=8, gate_depth=0, gate_width=0, parameters=10)
    rows = []
    for seed, (bad, good) in enumerate([(0.1, 0.95), (0.2, 0.92), (0.0, 0.5)]):
        rows += [{**model, "knots": 2, "seed": seed, "lr": 1e-3, "r2": bad}]
        rows += [{**model, "knots": 2, "seed": seed, "lr": 1e-2, "r2": good}]
        rows += [{**model, "knots": 4, "seed": seed, "lr": 1e-2, "r2": 0.1}]
    (row,) = capacity_table(rows, 0.9)
    assert row["median_r2"] == {"2": 0.92, "4": 0.1} and row["capacity"] == 2 and not row["saturated"]
    assert capacity_table(rows, 0.93)[0]["capacity"] == 0
