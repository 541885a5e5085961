"""studies.easy_share: the lowest-scored share of the pool and its correction rate."""

import numpy as np

from autolabel.records import ImageRecord
from studies.easy_share import component, lowest_share_rates


def test_lowest_share_rates_counts_the_lowest_eligible_scores_of_the_pool_size():
    score = np.array([0.1, 0.2, np.nan, 0.3, 0.9, 0.05, 0.4, 0.8, 0.7, 0.6])
    needs = np.array([0, 1, 1, 0, 1, 0, 1, 1, 1, 1], bool)
    everyone = np.ones(10, bool)
    # 20% of 10 = 2 lowest: 0.05 (ok), 0.1 (ok); 40% = 4: + 0.2 (fix), 0.3 (ok); the nan is never counted
    assert lowest_share_rates(score, needs, everyone, (0.2, 0.4), 10) == [(2, 0.0), (4, 0.25)]
    no_first = everyone.copy()
    no_first[5] = False  # not eligible (a failed image when only scored ones count)
    assert lowest_share_rates(score, needs, no_first, (0.2,), 10) == [(2, 0.5)]
    assert np.isnan(lowest_share_rates(score, needs, np.zeros(10, bool), (0.2,), 10)[0][1])


def test_component_reads_a_recorded_component_nan_where_missing():
    records = [
        ImageRecord(image="a.png", components={"error_p": 0.3, "one_minus_conf": 1.0}),
        ImageRecord(image="b.png", components={"one_minus_conf": 0.5}),
        ImageRecord(image="c.png"),  # no uncertainty recorded
    ]
    out = component(records, "error_p")
    assert out[0] == 0.3 and np.isnan(out[1]) and np.isnan(out[2])
    assert component(records, "one_minus_conf")[:2].tolist() == [1.0, 0.5]
