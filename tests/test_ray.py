"""`embed --ray` and the Ray Dataset API against a real two-node Ray cluster.

The cluster and its clients run inside a private network namespace the test makes
(`unshare --net --pid --fork --mount-proc`, then `ip link set lo up`): only 127.0.0.1
exists there, so Ray never binds to or reaches this machine's interfaces, and every
process of the cluster ends when the namespace's first process does. The cluster
starts once for the module (two nodes of one CPU each); one script runs every check
in it and the tests read what it left.
"""

import json
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from spacy_elmo import ElmoBiLM, ElmoEmbedder, save_weights_files
from spacy_elmo.io.embed_file import make_reducer

from .util import tiny_options

ROOT = Path(__file__).resolve().parent.parent
PORT = 6390
N_LINES = 2000
MIX = [1.0, 2.0, 3.0]  # as API_SCRIPT has it

CLUSTER_SCRIPT = r"""
set -euo pipefail
ip link set lo up
# The cluster lives in this private loopback-only namespace: no token authentication
# (Ray's default for `ray start` varies by version and environment, and a joining node
# must agree with the head).
export RAY_AUTH_MODE=disabled
trap 'timeout 60 ray stop --force >/dev/null 2>&1 || true' EXIT
NODE="--num-cpus=1 --node-ip-address=127.0.0.1 --object-store-memory=100000000"
timeout 120 ray start --head --port={port} --include-dashboard=false --disable-usage-stats \
    $NODE >head.log 2>&1
timeout 120 ray start --address=127.0.0.1:{port} $NODE >node.log 2>&1
EMBED="timeout 300 {python} -m spacy_elmo embed in.txt --weights bilm --ray 127.0.0.1:{port}"
$EMBED ray-per-line.hdf5 --workers 2 2>per-line.err
# Kill one worker (kill -9) after the first batch is written, while the run goes on.
$EMBED ray-concat.hdf5 --layout concat --workers 2 --batch-size 8 2>concat.err &
cli=$!
for _ in $(seq 1200); do grep -qE ' [1-9][0-9]*/{n_lines}' concat.err && break; sleep 0.05; done
victim=$(pgrep -f '^ray::EmbedWorker' | head -1)
running=$(kill -0 $cli 2>/dev/null && echo true || echo false)
written=$(test -e ray-concat.hdf5 && echo true || echo false)
kill -9 "$victim"
restarted=false
for _ in $(seq 1200); do
    if [ "$(pgrep -f '^ray::EmbedWorker' | grep -cvx "$victim")" -ge 2 ]; then
        restarted=true; break
    fi
    sleep 0.05
done
wait $cli
echo "{{\"running\": $running, \"written\": $written, \"restarted\": $restarted}}" >kill.json
timeout 300 {python} api.py 127.0.0.1:{port}
RAY_ADDRESS=127.0.0.1:{port} timeout 300 {python} docs.py >docs.out
"""

API_SCRIPT = """
import pickle, sys
import ray
from spacy_elmo.scale.ray_data import add_elmo_vectors

ray.init(address=sys.argv[1])
lines = open("in.txt", encoding="utf8").read().splitlines()[:300]
texts = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(lines)])
tokens = ray.data.from_items([{"id": i, "tokens": t.split()} for i, t in enumerate(lines)])
found = {
    "all": add_elmo_vectors(texts, "bilm", workers=2, batch_size=16).take_all(),
    "mix": add_elmo_vectors(
        tokens, "bilm", column="tokens", output_column="v", mode="mix", mix=[1.0, 2.0, 3.0],
        workers=2,
    ).take_all(),
}
vectors = {k: {r["id"]: r.get("elmo", r.get("v")) for r in rows} for k, rows in found.items()}
with open("api.pkl", "wb") as f:
    pickle.dump(vectors, f)
"""


def scaling_page_blocks() -> str:
    """The Python (`py`) blocks of docs/scaling.md, which need a Ray cluster, as one
    script (test_docs.py runs the `python` blocks, which need none)."""
    text = (ROOT / "docs" / "scaling.md").read_text(encoding="utf8")
    return "\n".join(m.group(1) for m in re.finditer(r"^```py\n(.*?)^```", text, re.M | re.S))


def lines() -> list:
    rng = random.Random(0)
    words = "The bank raised rates . We sat on the river bank , a b c hello world ; x".split()
    made = [" ".join(rng.choices(words, k=rng.randint(0, 12))) for _ in range(N_LINES)]
    made[5] = made[9]  # a repeated line: sentence_to_index maps it to the last one
    return made


def embed(folder: Path, output: str, *args: str) -> None:
    command = [sys.executable, "-m", "spacy_elmo", "embed", "in.txt", output, "-w", "bilm"]
    result = subprocess.run(
        [*command, *args], cwd=folder, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    """Single-process files, then the cluster script: the folder with every output."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to keep Ray inside a loopback-only namespace")
    folder = tmp_path_factory.mktemp("ray")
    torch.manual_seed(0)
    save_weights_files(ElmoBiLM(tiny_options()).eval(), folder / "bilm")
    (folder / "in.txt").write_text("\n".join(lines()) + "\n", encoding="utf8")
    embed(folder, "single-per-line.hdf5")
    embed(folder, "single-concat.hdf5", "--layout", "concat")
    (folder / "api.py").write_text(API_SCRIPT, encoding="utf8")
    (folder / "docs.py").write_text(scaling_page_blocks(), encoding="utf8")
    (folder / "path" / "to").mkdir(parents=True)
    shutil.copytree(folder / "bilm", folder / "path" / "to" / "model")
    script = CLUSTER_SCRIPT.format(port=PORT, python=sys.executable, n_lines=N_LINES)
    bin_dir = str(Path(sys.executable).parent)  # where `ray` is
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", OMP_NUM_THREADS="1")
    result = subprocess.run(
        ["unshare", "--net", "--pid", "--fork", "--mount-proc", "bash", "-c", script],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    logs = {name: (folder / name).read_text() for name in ("head.log", "node.log", "concat.err")
            if (folder / name).exists()}  # fmt: skip
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:], logs)
    return folder


def read_file(path: Path):
    with h5py.File(path, "r") as f:
        attrs = {k: str(v) for k, v in f.attrs.items()}
        data = {name: f[name][()] for name in f}
    return attrs, data


@pytest.mark.parametrize("layout", ["per-line", "concat"])
def test_ray_embed_writes_the_single_process_file(cluster_run, layout):
    """Same datasets, sentence_to_index, line order and record; vectors to 1e-6. The
    concat run had a worker killed mid-run."""
    single_attrs, single = read_file(cluster_run / f"single-{layout}.hdf5")
    ray_attrs, ray_data = read_file(cluster_run / f"ray-{layout}.hdf5")
    assert ray_attrs == single_attrs
    assert sorted(ray_data) == sorted(single)
    for name, value in single.items():
        if value.dtype.kind in "fi":
            np.testing.assert_allclose(ray_data[name], value, atol=1e-6, err_msg=name)
        else:
            assert (ray_data[name] == value).all(), name
    assert not list(cluster_run.glob(".*.hdf5*"))  # no temporary left


def test_a_killed_worker_is_restarted_mid_run(cluster_run):
    record = json.loads((cluster_run / "kill.json").read_text())
    assert record == {"running": True, "written": False, "restarted": True}
    assert "/2000" in (cluster_run / "concat.err").read_text()  # the bar knows the total


def test_dataset_api_adds_the_vectors(cluster_run):
    with (cluster_run / "api.pkl").open("rb") as f:
        found = pickle.load(f)
    embedder = ElmoEmbedder(str(cluster_run / "bilm"), device="cpu")
    mix = make_reducer("mix", MIX)
    for i, text in enumerate(lines()[:300]):
        layers = embedder.embed_sentence(text.split())
        np.testing.assert_allclose(found["all"][i], layers, atol=1e-6)
        np.testing.assert_allclose(found["mix"][i], mix(layers), atol=1e-6)


def test_the_scaling_page_runs_on_the_cluster(cluster_run):
    assert "(5, 16)" in (cluster_run / "docs.out").read_text()


def test_the_package_never_imports_ray():
    code = "import sys, spacy_elmo, spacy_elmo.cli; print('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def run_cli_without_ray(*args: str) -> subprocess.CompletedProcess:
    """The CLI as it runs where Ray is not installed (and no cluster is reached)."""
    code = "import sys; sys.modules['ray'] = None; from spacy_elmo.cli import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_ray_options_errors(tmp_path):
    (tmp_path / "in.txt").write_text("a b\n", encoding="utf8")
    out = str(tmp_path / "out.hdf5")
    result = run_cli_without_ray("embed", str(tmp_path / "in.txt"), out, "--ray", "local")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: --ray needs Ray: install spacy-elmo[ray] (pip install 'spacy-elmo[ray]')"
    ]
    result = run_cli_without_ray("embed", str(tmp_path / "in.txt"), out, "--workers", "2")
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "Error: --workers sets the number of Ray workers: it needs --ray"
    )
    assert not list(tmp_path.glob("*.hdf5"))
