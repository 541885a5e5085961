"""Names and seeds the experiment's modules share, each defined once (cleanlab-style: one comment each)."""

from __future__ import annotations

# The three models of a seed, in the order reports list them: CAL1 on GT1, CONTROL on GT1 + a random set,
# CAL2 on GT1 + GT2 (the selection).
MODEL_NAMES: tuple[str, str, str] = ("CAL1", "CONTROL", "CAL2")
# CAL1 trained as long again on GT1 alone (the recipe of CAL2 / CONTROL, as many optimizer steps as CAL2's,
# no new labels): what CAL2 and CONTROL gain over it is the labels' own share, not the extra training.
BASELINE = "CAL1_LONG"
# Paired differences the report shows, (a, b) meaning a - b; those with the baseline where a run has it.
PAIRS: tuple[tuple[str, str], ...] = (
    ("CAL2", "CONTROL"),
    ("CAL2", "CAL1"),
    ("CONTROL", "CAL1"),
    ("CAL2", BASELINE),
    ("CONTROL", BASELINE),
)

# Salts of the per-seed random streams, ``numpy.random.default_rng([seed, salt, ...])``: each draw has its
# own stream, so adding a draw never shifts another (and old run folders keep their selections).
GT2_SALT = 1  # ties and random draws of the GT2 selection
CONTROL_SALT = 2  # the random CONTROL
ROUND_SALT = 100  # labeling rounds: [seed, ROUND_SALT + round, strategy index]
