"""Uncertainty: MC dropout in the detector head, per-box scores, pooling, difficulty calibration."""
