"""The experiment refuses, before training, a selection whose record fields its pool labels will lack."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from autolabel.errors import DataError
from experiments.experiment import check_inputs

CONF = Path(__file__).resolve().parents[2] / "conf"


def config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="gt2_vs_random", overrides=list(overrides))


@pytest.mark.parametrize("option", ["kcenter", "kmeanspp", "hybrid"])
def test_a_diversity_selection_needs_pool_labels_with_embeddings(option):
    with pytest.raises(DataError, match=r"embedding.*uncertainty\.embedding=true"):
        check_inputs(config(f"selection={option}"))
    check_inputs(config(f"selection={option}", "uncertainty.embedding=true"))


def test_gain_per_second_reads_the_score_the_default_stage_gives():
    check_inputs(config("selection=gain_per_second"))
    with pytest.raises(DataError, match="score"):
        check_inputs(config("selection=gain_per_second", "uncertainty=none"))
