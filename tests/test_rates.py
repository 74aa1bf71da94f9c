"""A learning-rate grid trained as (rate, seed) ensembles: batches stored as units, found again on a rerun, split
per rate when asked, and the choice extended past the grid's edge."""

import math

import jax.numpy as jnp

from gnode.train.rates import batch_seconds, fit_rates


def fake_fit(calls: list, best: float = 0.1):
    """Members whose validation loss is (log10 rate - log10 best)^2 + seed / 100; each 'model' is its member."""

    def fit_members(grid, run_dir):
        calls.append([lr for lr, _ in grid])
        losses = [(math.log10(lr) - math.log10(best)) ** 2 + seed / 100 for lr, seed in grid]
        models = [jnp.asarray([lr, seed], jnp.float32) for lr, seed in grid]
        return models, {"val_loss": losses, "best_epoch": [seed for _, seed in grid], "seconds": 1.0}

    return fit_members


def test_batches_are_units_found_again_and_split_per_rate_when_asked(tmp_path):
    calls = []
    choice, fits = fit_rates(fake_fit(calls), [1e-3, 1e-2, 3e-2], 2, 3, out=tmp_path, unit="m", settings={"a": 1})
    assert calls == [[1e-3] * 2 + [1e-2] * 2 + [3e-2] * 2, [0.1, 0.1], [0.3, 0.3]]  # one ensemble per batch
    assert choice.chosen == 0.1 and choice.interior and sorted(fits) == [1e-3, 1e-2, 3e-2, 0.1, 0.3]
    assert [float(m[1]) for m in fits[0.1].models] == [0, 1] and fits[0.1].best_epoch == [0, 1]  # its own seeds
    assert batch_seconds(fits) == 3.0  # three batches, each counted once
    assert (tmp_path / "units" / "m_lr0.001_0.01_0.03.npz").is_file()
    again = []
    fit_rates(fake_fit(again), [1e-3, 1e-2, 3e-2], 2, 3, out=tmp_path, unit="m", settings={"a": 1})
    assert again == []  # every batch found finished
    apart = []
    split, _ = fit_rates(fake_fit(apart), [1e-3, 1e-2], 1, 0, out=None, unit="m", settings={}, together=False)
    assert apart == [[1e-3], [1e-2]] and split.chosen == 1e-2 and not split.interior
