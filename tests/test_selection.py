"""Choosing a learning rate interior to its grid: the 1-3 series and the extension past an edge."""

import math

import pytest

from gnode.errors import ConfigError
from gnode.selection import interior_rate, next_rate


def test_next_rate_walks_the_one_three_series():
    assert next_rate(3e-2, up=True) == 1e-1
    assert next_rate(1e-1, up=True) == 3e-1
    assert next_rate(1e-3, up=False) == 3e-4
    assert next_rate(3e-4, up=False) == 1e-4
    assert next_rate(5e-3, up=True) == 1e-2  # off the series: the next member of it
    assert next_rate(5e-3, up=False) == 3e-3
    with pytest.raises(ConfigError):
        next_rate(0.0, up=True)


def bowl(best: float, calls: list):
    """A fit whose validation loss is (log10 rate - log10 best)^2, recording what it was asked."""

    def fit(rates):
        calls.append(list(rates))
        return {r: (math.log10(r) - math.log10(best)) ** 2 for r in rates}

    return fit


def test_interior_rate_extends_past_the_edge_until_the_choice_is_interior():
    calls = []
    choice = interior_rate(bowl(0.1, calls), [1e-3, 3e-3, 1e-2, 3e-2], extensions=4)
    assert choice.chosen == 0.1 and choice.interior
    assert calls == [[1e-3, 3e-3, 1e-2, 3e-2], [0.1], [0.3]]  # stops once a rate above did worse
    assert list(choice.losses) == [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3]
    low = interior_rate(bowl(1e-4, []), [1e-3, 3e-3, 1e-2], extensions=4)
    assert low.chosen == 1e-4 and low.interior and min(low.losses) == 3e-5


def test_interior_rate_reports_an_edge_when_the_extensions_run_out():
    calls = []
    choice = interior_rate(bowl(10.0, calls), [1e-3, 1e-2], extensions=2)
    assert choice.chosen == 0.1 and not choice.interior and len(calls) == 3
    fixed = interior_rate(bowl(10.0, []), [1e-3, 1e-2])  # no extensions: the grid as given
    assert fixed.chosen == 1e-2 and not fixed.interior and list(fixed.losses) == [1e-3, 1e-2]


def test_interior_rate_extends_along_a_ladder_of_given_rates_and_stops_where_it_ends():
    ladder = [1e-4, 1e-3, 1e-2, 3e-2, 1e-1]  # e.g. the rates a sweep already ran
    calls = []
    choice = interior_rate(bowl(1e-3, calls), [1e-2, 3e-2, 1e-1], extensions=5, ladder=ladder)
    assert calls == [[1e-2, 3e-2, 1e-1], [1e-3], [1e-4]]  # the ladder's next rates, not the 1-3 series' 3e-3
    assert choice.chosen == 1e-3 and choice.interior
    calls = []
    edge = interior_rate(bowl(1e-6, calls), [1e-3, 1e-2], extensions=5, ladder=ladder)
    assert calls == [[1e-3, 1e-2], [1e-4]] and edge.chosen == 1e-4 and not edge.interior  # nothing below 1e-4
    up = interior_rate(bowl(1.0, []), [1e-3, 1e-2], extensions=5, ladder=ladder)
    assert list(up.losses) == [1e-3, 1e-2, 3e-2, 1e-1] and up.chosen == 1e-1 and not up.interior


def test_interior_rate_treats_a_diverged_rate_as_the_worst():
    def fit(rates):
        return {r: (math.nan if r > 0.05 else -r) for r in rates}  # better as the rate grows, until it diverges

    choice = interior_rate(fit, [1e-2, 3e-2], extensions=3)
    assert choice.chosen == 3e-2 and choice.interior and choice.losses[0.1] == math.inf
    with pytest.raises(ConfigError):
        interior_rate(fit, [], extensions=1)
