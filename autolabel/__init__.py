"""Auto-labeling for object detection: datasets and splits, the detector wrapper, the batch job, exports."""

__version__ = "0.1.0"
