"""The pretraining optimiser and its learning-rate schedule."""

import math

import pytest
import torch

from spacy_elmo.pretrain.config import load_config
from spacy_elmo.pretrain.optim import learn_rate, make_optimizer, run_done, set_learn_rate

from .pretrain_util import write_corpus


def training(**settings):
    overrides = {f"training.{k}": v for k, v in settings.items()}
    return load_config(None, "tiny", overrides)["training"]


def test_the_recipe_default_is_constant_adagrad():
    t = training()
    assert t["optimizer"] == "adagrad" and t["lr_decay"] == "constant"
    assert [learn_rate(t, step, done) for step, done in [(0, 0.0), (500, 0.5), (9, 1.0)]] == [
        0.2,
        0.2,
        0.2,
    ]
    optimizer = make_optimizer(torch.nn.Linear(2, 2), t)
    assert isinstance(optimizer, torch.optim.Adagrad)
    assert optimizer.param_groups[0]["initial_accumulator_value"] == 1.0


def test_warmup_then_linear_and_cosine_decay():
    t = training(optimizer="adam", learn_rate=0.002, warmup_steps=4, lr_decay="linear")
    assert learn_rate(t, 0, 0.0) == pytest.approx(0.0005)
    assert learn_rate(t, 3, 0.0) == pytest.approx(0.002)
    assert learn_rate(t, 10, 0.25) == pytest.approx(0.0015)
    assert learn_rate(t, 10, 1.0) == 0.0
    assert learn_rate(t, 10, 1.7) == 0.0  # past the end: stays at zero
    t = training(optimizer="adam", learn_rate=0.002, lr_decay="cosine")
    assert learn_rate(t, 10, 0.5) == pytest.approx(0.001)
    assert learn_rate(t, 10, 0.25) == pytest.approx(0.001 * (1 + math.cos(math.pi / 4)))


def test_run_done_takes_the_further_of_steps_and_minutes():
    assert run_done(training(), 25, 100, 3600.0) == 0.25
    assert run_done(training(max_minutes=10.0), 25, 100, 300.0) == 0.5
    assert run_done(training(max_minutes=10.0), 80, 100, 300.0) == 0.8
    assert run_done(training(max_minutes=10.0), 80, 100, 900.0) == 1.0


def test_optimizers_and_rates():
    model = torch.nn.Linear(2, 2)
    adamw = make_optimizer(model, training(optimizer="adamw", weight_decay=0.01, warmup_steps=10))
    assert isinstance(adamw, torch.optim.AdamW)
    assert adamw.param_groups[0]["weight_decay"] == 0.01
    assert adamw.param_groups[0]["lr"] == pytest.approx(0.02)  # first warm-up step
    set_learn_rate(adamw, 0.5)
    assert adamw.param_groups[0]["lr"] == 0.5
    assert isinstance(make_optimizer(model, training(optimizer="adam")), torch.optim.Adam)


@pytest.mark.parametrize(
    "key,value", [("training.lr_decay", "exponential"), ("training.optimizer", "sgd")]
)
def test_config_rejects_unknown_choices(key, value):
    with pytest.raises(ValueError, match=key.split(".")[1]):
        load_config(None, "tiny", {key: value})


def test_pretraining_follows_the_schedule(tmp_path):
    """The trainer sets each step's rate: after a linear decay the rate is zero."""
    from spacy_elmo.pretrain.trainer import pretrain

    corpus = write_corpus(tmp_path / "text")
    overrides = {
        "paths.train": str(corpus / "train.txt"),
        "training.batch_size": 8,
        "training.unroll_steps": 10,
        "training.max_steps": 12,
        "training.checkpoint_every": 12,
        "training.optimizer": "adam",
        "training.learn_rate": 0.01,
        "training.warmup_steps": 3,
        "training.lr_decay": "linear",
        "vocab.min_count": 1,
    }
    lines = []
    pretrain(tmp_path / "out", load_config(None, "tiny", overrides), log=lines.append)
    from spacy_elmo.pretrain.checkpoint import CHECKPOINT_FILE, load_checkpoint

    ckpt = load_checkpoint(tmp_path / "out" / CHECKPOINT_FILE)
    groups = ckpt.optimizer["param_groups"]
    assert groups[0]["lr"] == pytest.approx(0.01 * (1 - 11 / 12))  # the last step's rate
