"""Research tools that read the experiment's run folders: not installed with the product.

Run them from the repository root (``python -m studies.score_check runs/gt2_vs_random/demo``). They read
run folders only through :mod:`experiments.run_folder`.
"""
