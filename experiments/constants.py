"""Names and seeds the experiment's modules share, each defined once (cleanlab-style: one comment each)."""

from __future__ import annotations

# The three models of a seed, in the order reports list them: CAL1 on GT1, CONTROL on GT1 + a random set,
# CAL2 on GT1 + GT2 (the selection).
MODEL_NAMES: tuple[str, str, str] = ("CAL1", "CONTROL", "CAL2")
# CAL1 trained as long again on GT1 alone (the recipe of CAL2 / CONTROL, as many optimizer steps as CAL2's,
# no new labels): what CAL2 and CONTROL gain over it is the labels' own share, not the extra training.
BASELINE = "CAL1_LONG"
# GT1 + random pool images until GT2's hand-labeling seconds are spent (cost model): the control of the same
# labeling time, the report's headline comparison (CONTROL, of the same image count, is the second line).
TIME_CONTROL = "CONTROL_TIME"
# Models a run may or may not train (experiment.baseline, experiment.time_control), in report order; a
# report shows one when every seed trained it.
OPTIONAL_MODELS: tuple[str, ...] = (TIME_CONTROL, BASELINE)
# Paired differences the report shows, (a, b) meaning a - b, headline first; those with an optional model
# where every seed has it.
PAIRS: tuple[tuple[str, str], ...] = (
    ("CAL2", TIME_CONTROL),
    ("CAL2", "CONTROL"),
    ("CAL2", "CAL1"),
    ("CONTROL", "CAL1"),
    ("CAL2", BASELINE),
    (TIME_CONTROL, BASELINE),
    ("CONTROL", BASELINE),
)

# Salts of the per-seed random streams, ``numpy.random.default_rng([seed, salt, ...])``: each draw has its
# own stream, so adding a draw never shifts another (and old run folders keep their selections).
GT2_SALT = 1  # ties and random draws of the GT2 selection
CONTROL_SALT = 2  # the random CONTROL
TIME_CONTROL_SALT = 3  # the random CONTROL_TIME
ROUND_SALT = 100  # labeling rounds: [seed, ROUND_SALT + round, strategy index]
