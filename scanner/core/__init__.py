"""The ground floor: constants and types that every stage shares (window size, map cell, image
rules, calibrations, window scores) and the few helpers every stage uses (atomic writes, file
digests, the logistic function). Nothing here imports from another part of scanner."""
