import numpy as np
import pytest

from autolabel.review.outcomes import auroc, fit_costs, latest_reviews, score_outcomes


def row(image, score, changed, lead_time=None, edits=None, band="hard", status="written"):
    return {
        "image": image,
        "score": score,
        "changed": changed,
        "lead_time": lead_time,
        "edits": edits,
        "band": band,
        "status": status,
    }


def test_auroc_orders_and_ties():
    assert auroc(np.array([0.1, 0.9]), np.array([False, True])) == 1.0
    assert auroc(np.array([0.9, 0.1]), np.array([False, True])) == 0.0
    assert auroc(np.array([0.5, 0.5]), np.array([False, True])) == 0.5
    assert auroc(np.array([0.5]), np.array([True])) is None


def test_score_outcomes_measures_against_real_changes():
    rows = [
        row("a", 0.1, False, 3.0, band="easy"),
        row("b", 0.9, True, 20.0),
        row("c", 0.5, True, 9.0),
        row("d", 0.2, False, 4.0, band="easy"),
    ]
    out = score_outcomes(rows)
    assert out["auroc_changed"] == 1.0 and out["spearman_lead_time"] == pytest.approx(1.0)
    assert out["bands"]["easy"] == {"images": 2, "changed": 0, "changed_rate": 0.0}
    everything = score_outcomes([row("a", 0.1, True, 3.0), row("b", 0.9, True, 20.0)])
    assert everything["auroc_changed"] is None and "every reviewed image was changed" in everything["note"]


def test_latest_reviews_keeps_the_last_written_row_per_image():
    rows = [
        row("a", 0.1, False),
        row("a", 0.1, True, status="overwritten"),
        row("b", 0.2, True, status="conflict"),
    ]
    assert [r["changed"] for r in latest_reviews(rows)] == [True]


def test_fit_costs_recovers_known_seconds_and_refuses_to_guess():
    rng = np.random.default_rng(0)
    true = {"t_image": 2.0, "t_verify": 1.5, "t_delete": 1.0, "t_relabel": 3.0, "t_draw": 9.0}
    rows = []
    for i in range(40):
        e = {
            k: int(v)
            for k, v in zip(("kept", "deleted", "relabeled", "drawn"), rng.integers(0, 4, 4), strict=True)
        }
        t = (
            true["t_image"]
            + e["kept"] * true["t_verify"]
            + e["deleted"] * true["t_delete"]
            + e["relabeled"] * true["t_relabel"]
            + e["drawn"] * true["t_draw"]
        )
        rows.append(row(str(i), 0.1, True, t, edits=e))
    fit = fit_costs(rows)
    for key, value in true.items():
        assert fit["seconds"][key] == pytest.approx(value, abs=1e-6)
    no_relabel = [r for r in rows if r["edits"]["relabeled"] == 0]
    assert fit_costs(no_relabel)["seconds"]["t_relabel"] is None
    assert "too few" in fit_costs(rows[:3])["note"]
