"""Held-out accuracy of the shipped detectors against their SRM+SVM baselines -> docs/detectors.md.

    python benchmarks/detectors_report.py [--weights weights] [--images ../shared/data/pristine] [--out docs/detectors.md]

For each detector the held-out patches are rebuilt exactly as in training (same manifest:
the script checks its hash against the model card), then the recast CNN and the SVM saved
beside it are scored. Balanced accuracy per strength at each method's own decision boundary
(logit 0) and at its 1%-false-positive threshold.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scanner.data import build_task, default_pristine_dir
from scanner.detectors import load_shipped
from scanner.train import LinearSVM, accuracy_by_strength, predict_scores, svm_scores, threshold_at_fpr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/detectors.md"))
    args = parser.parse_args()
    root = args.images or default_pristine_dir()
    detectors = load_shipped(directory=args.weights)
    sections, summary = [], ["| detector | strength | CNN | SVM | CNN @1%FPR | SVM @1%FPR | CNN TPR @1%FPR | SVM TPR @1%FPR |",
                             "|---|---|---|---|---|---|---|---|"]
    for name, det in detectors.items():
        card = det.card
        data = build_task(root, name, tuple(card["task"]["strengths"]), card["data"]["patches_per_image"],
                          card["data"]["n_test"] and 16, card["seed"], region=card["data"]["region"])
        if data.manifest_sha256 != card["data"]["manifest_sha256"]:
            raise SystemExit(f"{name}: the rebuilt data do not match the model card's manifest")
        cnn = predict_scores(det.net, data.test.x)
        svm = svm_scores(LinearSVM.load(det.path.parent / card["baseline"]["file"]), data.test.x)
        t_cnn, t_svm = threshold_at_fpr(cnn[data.test.y == 0]), threshold_at_fpr(svm[data.test.y == 0])
        acc = {k: accuracy_by_strength(s, data.test, t) for k, s, t in
               (("cnn", cnn, 0.0), ("svm", svm, 0.0), ("cnn_thr", cnn, t_cnn), ("svm_thr", svm, t_svm))}
        for s in acc["cnn"]:
            strength = float(s)
            pos = (data.test.y == 1) & (data.test.strength == strength)
            tpr_cnn, tpr_svm = 100 * np.mean(cnn[pos] > t_cnn), 100 * np.mean(svm[pos] > t_svm)
            summary.append(f"| {name} | {s} | {acc['cnn'][s]:.2f} | {acc['svm'][s]:.2f} | {acc['cnn_thr'][s]:.2f} | "
                           f"{acc['svm_thr'][s]:.2f} | {tpr_cnn:.1f} | {tpr_svm:.1f} |")
        tr = card["training"]
        sections.append(
            f"### {name}\n\n- task: {name} at {', '.join(f'{v:g}' for v in card['task']['strengths'])} (mixed), "
            f"{card['data']['n_train']} training / {card['data']['n_test']} held-out patches; "
            f"{len(card['data']['train_cameras'])} training cameras ({len(tr.get('validation_cameras', []))} of them for validation), "
            f"{len(card['data']['test_cameras'])} held-out cameras\n"
            f"- training: Adam lr {tr['lr']:g}, decay {tr['weight_decay']:g}, batch {tr['batch_size']}, {tr['epochs']} epochs "
            f"on {tr['device']} in {tr['seconds']:.0f} s; validation losses (step, loss): {tr.get('validation_losses')}; "
            f"kept step {tr.get('kept_step')}\n"
            f"- threshold: window probability {card['threshold']['probability']:.3f} (1% of held-out pristine patches above it)\n"
            f"- weights: `{card['weights_file']}` sha256 `{card['weights_sha256'][:16]}...`, SVM `{card['baseline']['file']}` (C = {card['baseline']['C']:g})\n")
    text = f"""# Shipped detectors

Produced by:

```bash
bash benchmarks/train_detectors.sh 2          # trains weights/*.pt, *.json, *.svm.npz
python benchmarks/detectors_report.py         # this page
```

Balanced accuracy (%) per strength on **cameras never seen in training** (pristine patches against
patches processed at that strength, same positions). "CNN" is the shipped recast network, "SVM" the
SRM + linear SVM baseline trained on the same patches. Plain columns decide at each method's own
boundary (logit 0); "@1%FPR" columns at the threshold that leaves 1% of held-out pristine patches
above it (the scanner's operating point); TPR = share of processed patches detected there.

{chr(10).join(summary)}

## Per detector

{chr(10).join(sections)}
"""
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
