import numpy as np

from autolabel.structures import Detections
from uncertainty.evaluation import evaluate_methods, table
from uncertainty.image_score import COMPONENTS


def scored_set(n, seed):
    """Images whose `score` predicts needing correction, plus a useless component; a few failed images."""
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    labels = rng.random(n) < scores
    failed = rng.random(n) < 0.1
    scored = []
    for s, f in zip(scores, failed, strict=True):
        comps = {name: float(rng.random()) for name in COMPONENTS}
        scored.append(
            (Detections.empty(2), {"score": None if f else float(s), "components": comps, "failed": bool(f)})
        )
    return scored, labels


def test_informative_score_beats_random_and_bands_are_ordered():
    val, val_labels = scored_set(400, 0)
    test, test_labels = scored_set(400, 1)
    result = evaluate_methods(val, val_labels, test, test_labels)
    mc, rnd = result["methods"]["mc"], result["methods"]["random"]
    assert mc["auroc"] > 0.75 > 0.6 > rnd["auroc"] > 0.4
    assert mc["bands"]["easy"]["rate"] < mc["bands"]["medium"]["rate"] < mc["bands"]["hard"]["rate"]
    assert mc["hard_over_easy"] >= 3
    assert mc["ece"] < 0.1
    assert result["n_failed"] == mc["bands"]["failed"]["n"] > 0
    assert set(result["methods"]) == {"mc", "random", *COMPONENTS}
    assert "mc" in table(result).splitlines()[1]  # best AUROC first


def test_the_table_reads_a_saved_result_whose_undefined_figures_are_null():
    import json

    from autolabel.records import json_safe

    val, val_labels = scored_set(60, 0)
    test, _ = scored_set(60, 1)
    every_image_needs_a_fix = np.ones(60, dtype=bool)  # AUROC is undefined: nan, saved as null
    result = evaluate_methods(val, val_labels, test, every_image_needs_a_fix)
    saved = json.loads(json.dumps(json_safe(result)))
    assert saved["methods"]["mc"]["auroc"] is None
    assert table(saved) == table(result) and "nan" in table(saved)
