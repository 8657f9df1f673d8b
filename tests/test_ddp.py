"""Data-parallel pretraining with gloo, as on several machines: 2 processes that meet
at 127.0.0.1 (torchrun's static rendezvous, --master_addr), inside a private network
namespace that has only loopback, against one process with the same global batch.

With dropout 0 the two runs compute the same gradients (each process takes half the
batch's rows, and DDP averages), so they end with the same weights up to float
rounding in the gradient sum; with dropout they would differ (each process draws its
own masks).
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from .pretrain_util import FAST_SETTINGS, write_corpus
from .test_pretrain_cli import datasets

SETTINGS = [*FAST_SETTINGS, "--training.max_steps", "20", "--training.dropout", "0"]


def pretrain(out, corpus):
    return [
        "-m", "spacy_elmo", "pretrain", str(out),
        "--train", str(corpus / "train.txt"), "--heldout", str(corpus / "heldout.txt"),
        *SETTINGS,
    ]  # fmt: skip


def test_two_gloo_processes_end_with_the_weights_of_one(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to keep gloo inside a loopback-only namespace")
    corpus = write_corpus(tmp_path / "text", n_train=200, n_heldout=20)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    single = subprocess.run(
        [sys.executable, *pretrain(tmp_path / "one", corpus)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-2000:]
    torchrun = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", "29511",
        *pretrain(tmp_path / "two", corpus),
    ]  # fmt: skip
    script = "ip link set lo up && exec " + " ".join(torchrun)
    ddp = subprocess.run(
        ["unshare", "--net", "bash", "-c", script],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stdout[-2000:] + ddp.stderr[-2000:]
    assert "2 processes in sync at step 20" in ddp.stdout
    one = datasets(tmp_path / "one" / "weights.hdf5")
    two = datasets(tmp_path / "two" / "weights.hdf5")
    assert sorted(one) == sorted(two)
    for name, value in one.items():
        np.testing.assert_allclose(two[name], value, atol=1e-4, err_msg=name)
