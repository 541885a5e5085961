"""evaluate reviews=...: effort captured against the reviewers' real lead times."""

import json

import pytest

from uncertainty.evaluate import evaluate_reviews


def test_effort_captured_follows_real_lead_times(tmp_path, capsys):
    rows = []
    for i in range(10):
        lead = 5.0 + 10.0 * i  # the reviewer spent longest on the highest scores
        edits = {"kept": 1, "deleted": i % 2, "relabeled": 0, "drawn": i // 3}
        rows.append(
            {
                "image": f"{i}.png",
                "status": "written",
                "score": float(i),
                "changed": i > 2,
                "lead_time": lead,
                "edits": edits,
                "band": "hard" if i > 5 else "easy",
            }
        )
    path = tmp_path / "reviews.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    evaluate_reviews(path, tmp_path)
    saved = json.loads((tmp_path / "review_eval.json").read_text())
    captured, oracle = saved["effort"]["captured"], saved["effort"]["oracle"]
    assert captured["0.3"] == pytest.approx(oracle["0.3"]) == pytest.approx((95 + 85 + 75) / 500)
    assert saved["effort"]["random"]["0.3"] == 0.3
    assert "share of all lead time in the top k" in capsys.readouterr().out
