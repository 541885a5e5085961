"""studies.score_check: rank correlation and top-share on known numbers."""

import math

import numpy as np
import pytest

from studies.score_check import rank_average, spearman, top_share


def test_rank_average_shares_ranks_between_ties():
    assert rank_average([10.0, 30.0, 20.0]).tolist() == [1.0, 3.0, 2.0]
    assert rank_average([5.0, 1.0, 5.0, 7.0]).tolist() == [2.5, 1.0, 2.5, 4.0]
    assert rank_average([-np.inf, 0.0, -np.inf]).tolist() == [1.5, 3.0, 1.5]  # failed images tie last


def test_spearman_on_known_orders():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)  # 1 - 6*4 / (5*24)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2], [1, 2, 3])


def test_top_share_of_the_target_held_by_the_top_fraction():
    target = np.array([0.0, 1.0, 2.0, 3.0, 4.0])  # sum 10
    assert top_share(target, target, 0.4) == pytest.approx(0.7)  # images 4 and 3
    assert top_share(-target, target, 0.4) == pytest.approx(0.1)  # images 0 and 1
    assert top_share([np.nan, 1, 2, 3, 4], target, 0.2) == pytest.approx(0.4)  # nan ranks last
    assert math.isnan(top_share([1, 2], [0, 0], 0.5))
    with pytest.raises(ValueError, match="fraction"):
        top_share(target, target, 0.0)
