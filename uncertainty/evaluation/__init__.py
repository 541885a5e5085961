"""Measuring the uncertainty scores (the ``uncertainty.evaluate`` app's library): per image, per box, the
error model's ablation, and their plots. Nothing here runs inside the label job."""
