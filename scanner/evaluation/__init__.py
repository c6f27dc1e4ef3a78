"""Evaluation on held-out makes: detectors per task and per image, forgery localisation, and the
paper's Table II."""
