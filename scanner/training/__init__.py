"""Training: the photo collection and its make splits, training data, and the fitting and
calibration of each detector family."""
