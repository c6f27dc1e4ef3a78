"""Fine-tuning the bank as one network: the data, the multi-task loss and the run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from scanner.families.bank_network import BankNetwork
from scanner.families.registry import load_shipped
from scanner.processing.manipulations import all_tasks
from scanner.training.bank_finetune import (
    build_finetune_set,
    epoch_batches,
    fine_tune_bank,
    multitask_loss,
    task_scores,
    validation_loss,
)
from scanner.training.photos import list_photos
from tests.conftest import textured_image


def test_multitask_loss_is_each_heads_cross_entropy_on_its_own_patches(rng):
    logits = torch.as_tensor(rng.normal(size=(9, 15)))
    versions = torch.as_tensor([0, 3, 0, 15, 1, 0, 7, 7, 2])
    bce = lambda z, y: np.log1p(np.exp(-z)) if y else np.log1p(np.exp(z))
    z = logits.numpy()
    pristine = [np.mean([bce(z[i, t], 0) for t in range(15)]) for i in range(9) if versions[i] == 0]
    processed = [bce(z[i, versions[i] - 1], 1) for i in range(9) if versions[i] > 0]
    assert float(multitask_loss(logits, versions)) == pytest.approx(np.mean(pristine) + np.mean(processed), rel=1e-12)


def test_an_epoch_holds_every_pristine_patch_and_one_processed_version_per_position():
    from scanner.training.bank_finetune import FineTuneSet

    data = FineTuneSet(np.zeros((16, 10, 8, 8), np.uint8), np.zeros((16, 10, 3), np.float32), np.array(["a"] * 10, dtype=object),
                       np.arange(10))
    for epoch in (0, 1):
        pairs = np.concatenate([np.stack(b, 1) for b in epoch_batches(data, epoch, 4, seed=0)])
        assert len(pairs) == 20
        assert sorted(pairs[pairs[:, 0] == 0, 1]) == list(range(10))
        processed = pairs[pairs[:, 0] > 0]
        assert sorted(processed[:, 1]) == list(range(10)) and set(processed[:, 0]) <= set(range(1, 16))
    first, second = (sorted(map(tuple, np.concatenate([np.stack(b, 1) for b in epoch_batches(data, e, 4, 0)]))) for e in (0, 1))
    assert first != second  # the task of each position cycles with the epoch


@pytest.fixture
def finetune_set(tmp_path, rng):
    root = tmp_path / "photos"
    root.mkdir()
    lines = ["path\tcamera\tsha256"]
    for i in range(2):
        Image.fromarray(textured_image(rng, 400, 400)).save(root / f"p{i}.png")
        lines.append(f"p{i}.png\tMake{i} Camera\t{i:064x}")
    (root / "MANIFEST.tsv").write_text("\n".join(lines) + "\n")
    return build_finetune_set(list_photos(root), positions=3, region=400, cache_dir=tmp_path / "cache", workers=1)


def test_the_set_holds_every_version_of_each_position_and_the_bank_scores_it(finetune_set):
    data = finetune_set
    assert data.green.shape[0] == 1 + len(all_tasks()) and data.green.shape[1] == len(data.make) > 0
    assert set(data.make) == {"make0", "make1"}
    assert not np.array_equal(data.green[0], data.green[1 + all_tasks().index(("blur", 1.1))])
    bank = load_shipped()
    scores = task_scores(BankNetwork.from_bank(bank), data)
    patches_side = data.side[0].astype(np.float64)
    expected = bank.tasks(np.hstack([np.sqrt(bank.descriptors(data.green[0])[:, :-333]), np.sqrt(patches_side[:, :81]), patches_side[:, 81:]]))
    np.testing.assert_allclose(scores[0], expected, rtol=1e-5, atol=1e-5)  # side descriptors stored as float32


def test_fine_tuning_keeps_the_state_of_lowest_validation_loss(finetune_set):
    net = BankNetwork.from_bank(load_shipped())
    start = validation_loss(net, finetune_set)
    run = fine_tune_bank(net, finetune_set, finetune_set, epochs=2, lr={"filters": 1e-3, "steps": 1e-5, "heads": 1e-3}, batch=4)
    assert run.validation[0] == pytest.approx(start) and len(run.losses) == 2 and len(run.validation) == 3
    assert run.kept_epoch == int(np.argmin(run.validation))
    assert validation_loss(net, finetune_set) == pytest.approx(min(run.validation))
