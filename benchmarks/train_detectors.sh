#!/usr/bin/env bash
# Train the five shipped detectors into weights/ (one recast CNN per manipulation, the three
# strengths of Table I mixed). CPU budget of the session that produced weights/: 2 epochs each.
# On a GPU, drop --epochs to get the paper's 15.
#   bash benchmarks/train_detectors.sh [EPOCHS] [extra scanner train options]
set -euo pipefail
epochs=${1:-2}
shift || true
for manip in median blur noise resize jpeg; do
  scanner train --manip "$manip" --epochs "$epochs" --out weights --quiet "$@"
done
rm -rf weights/checkpoints
