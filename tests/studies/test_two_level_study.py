"""studies.two_level on a real (tiny) train run: t_high from VAL, both boosts on POOL, per t_ignore."""

import re

import pytest

from studies.two_level import main


def test_the_study_prints_both_boosts_per_price(trained_run, capsys):
    run_dir, card, _ = trained_run
    main([str(run_dir), "--t-ignore", "0.5", "1.5", "--t-accept", "0.0"])
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("t_ignore")]
    assert len(lines) == 2
    pattern = r"POOL one level ([\d.]+)x, two levels ([\d.]+)x"
    (one_a, two_a), (one_b, two_b) = (map(float, re.search(pattern, x).groups()) for x in lines)
    assert one_a == one_b and two_a >= one_a  # a cheaper glance, no price to accept: never worse
    assert two_b == pytest.approx(one_b, abs=0.01)  # ignoring at t_delete's price gains nothing


def test_a_folder_without_a_card_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="model_card.json: missing"):
        main([str(tmp_path)])
