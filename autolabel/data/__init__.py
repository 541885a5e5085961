"""Datasets, the VAL / GT1 / POOL split, training views, image decoding; the generators in ``synthetic/``."""
