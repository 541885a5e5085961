"""The detector: the ultralytics wrapper (every ultralytics call), the model card, the cost model and
boost, matching auto-labels to truth, and keeping ultralytics offline."""
