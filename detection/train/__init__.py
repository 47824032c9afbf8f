"""Training, evaluation and export of Shirong detectors (Ultralytics for training, own metrics)."""
