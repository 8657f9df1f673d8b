import io
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np
import pytest
import spacy
import torch

from spacy_elmo import ElmoBiLM, ElmoFormatError, load_bilm, resolve_weights, save_weights_files
from spacy_elmo.errors import DownloadError
from spacy_elmo.io import download as download_module
from spacy_elmo.io import hub
from spacy_elmo.io.download import download_model, model_urls

from .test_manylangs import SENTENCES, write_reference_model
from .util import tiny_options


class Handler(BaseHTTPRequestHandler):
    """Serves `server.files` (path -> bytes) with Range support and injected faults."""

    server: "FileServer"

    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_GET(self):
        srv = self.server
        body = srv.files.get(self.path)
        range_header = self.headers.get("Range")
        record = {"path": self.path, "range": range_header, "sent": 0}
        srv.log.append(record)
        if body is None:
            self.send_error(404)
            return
        size, start, status = len(body), 0, 200
        if range_header and srv.honour_range:
            start = int(range_header.split("=")[1].split("-")[0])
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(size - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        payload = body[start:]
        fault = srv.faults.pop(self.path, None)
        if fault is not None:
            kind, n = fault
            record["sent"] = n  # before writing: the client may finish before we return
            self.wfile.write(payload[:n])
            self.wfile.flush()
            if kind == "stall":  # stop sending, keep the connection open
                time.sleep(0.6)
            if kind == "drop":  # abortive close (RST)
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.close_connection = True
            return
        record["sent"] = len(payload)
        self.wfile.write(payload)


class FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files = {}
        self.log = []
        self.faults = {}
        self.honour_range = True

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def requests_for(self, name):
        return [r for r in self.log if r["path"] == self.paths[name]]

    def serve_model(self, model_dir):
        self.paths = {k: urlsplit(u).path for k, u in model_urls("small", self.url).items()}
        for name, path in self.paths.items():
            self.files[path] = (model_dir / name).read_bytes()


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def server(tmp_path, tiny_bilm, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setattr(download_module, "TIMEOUT", (5.0, 5.0))
    srv = FileServer()
    save_weights_files(tiny_bilm, tmp_path / "served")
    srv.serve_model(tmp_path / "served")
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def files_in(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_then_load(server, cache, tiny_bilm, monkeypatch):
    directory = download_model("small", cache=cache, base_url=server.url, progress=True)
    assert directory == cache / "small"
    assert files_in(directory) == ["options.json", "weights.hdf5"]
    assert len(server.log) == 2 and all(r["range"] is None for r in server.log)
    monkeypatch.setenv("SPACY_ELMO_CACHE", str(cache))
    assert same_weights(load_bilm("small"), tiny_bilm)
    # Already there and valid: the server is not contacted again.
    assert download_model("2x1024_128_2048cnn_1xhighway", cache=cache, base_url=server.url) == (
        directory
    )
    assert len(server.log) == 2


def test_default_cache_and_base_url_from_env(server, cache, monkeypatch):
    monkeypatch.setenv("SPACY_ELMO_CACHE", str(cache))
    monkeypatch.setenv("SPACY_ELMO_BASE_URL", server.url + "/")
    assert download_model("SMALL", progress=False) == cache / "small"
    assert files_in(cache / "small") == ["options.json", "weights.hdf5"]


@pytest.mark.parametrize("kind", ["truncate", "drop"])
def test_interrupted_download_resumes(server, cache, tiny_bilm, kind):
    weights_path = server.paths["weights.hdf5"]
    size = len(server.files[weights_path])
    cut = size // 3
    server.faults[weights_path] = (kind, cut)
    with pytest.raises(DownloadError, match="weights.hdf5") as excinfo:
        download_model("small", cache=cache, base_url=server.url, progress=False)
    message = str(excinfo.value)
    assert server.url in message and "resume" in message
    if kind == "truncate":
        assert f"{cut} of {size} bytes" in message
    directory = cache / "small"
    assert files_in(directory) == ["options.json.part", "weights.hdf5.part"]
    assert (directory / "weights.hdf5.part").stat().st_size == cut

    download_model("small", cache=cache, base_url=server.url, progress=False)
    assert files_in(directory) == ["options.json", "weights.hdf5"]
    second = server.requests_for("weights.hdf5")[-1]
    assert second["range"] == f"bytes={cut}-"
    assert second["sent"] == size - cut
    # The complete options.json.part was confirmed with a range request (416).
    options_requests = server.requests_for("options.json")
    assert len(options_requests) == 2 and options_requests[1]["sent"] == 0
    assert same_weights(load_bilm(directory), tiny_bilm)


def test_stalled_download_times_out(server, cache, tiny_bilm, monkeypatch):
    monkeypatch.setattr(download_module, "TIMEOUT", (5.0, 0.2))
    weights_path = server.paths["weights.hdf5"]
    server.faults[weights_path] = ("stall", 1000)
    with pytest.raises(DownloadError, match="interrupted after 1000 of"):
        download_model("small", cache=cache, base_url=server.url, progress=False)
    assert (cache / "small" / "weights.hdf5.part").stat().st_size == 1000
    download_model("small", cache=cache, base_url=server.url, progress=False)
    assert server.requests_for("weights.hdf5")[-1]["range"] == "bytes=1000-"
    assert same_weights(load_bilm(cache / "small"), tiny_bilm)


def test_server_ignoring_range_restarts(server, cache, tiny_bilm):
    weights_path = server.paths["weights.hdf5"]
    server.faults[weights_path] = ("truncate", 100)
    with pytest.raises(DownloadError):
        download_model("small", cache=cache, base_url=server.url, progress=False)
    server.honour_range = False
    download_model("small", cache=cache, base_url=server.url, progress=False)
    last = server.requests_for("weights.hdf5")[-1]
    assert last["range"] == "bytes=100-" and last["sent"] == len(server.files[weights_path])
    assert same_weights(load_bilm(cache / "small"), tiny_bilm)


def other_shape_weights(tmp_path):
    torch.manual_seed(1)
    save_weights_files(ElmoBiLM(tiny_options(dim=16)), tmp_path / "other")
    return (tmp_path / "other" / "weights.hdf5").read_bytes()


@pytest.mark.parametrize("corruption", ["other-shape", "garbage", "bad-options"])
def test_corrupt_download(server, cache, tmp_path, corruption):
    if corruption == "other-shape":
        server.files[server.paths["weights.hdf5"]] = other_shape_weights(tmp_path)
    elif corruption == "garbage":
        server.files[server.paths["weights.hdf5"]] = b"\x00garbage" * 1000
    else:
        server.files[server.paths["options.json"]] = b"{not json"
    with pytest.raises(ElmoFormatError, match="corrupt") as excinfo:
        download_model("small", cache=cache, base_url=server.url, progress=False)
    assert ".part" in str(excinfo.value)  # the underlying message names the file
    assert files_in(cache / "small") == []


def test_corrupt_forced_download_keeps_good_files(server, cache, tmp_path, tiny_bilm):
    download_model("small", cache=cache, base_url=server.url, progress=False)
    server.files[server.paths["weights.hdf5"]] = other_shape_weights(tmp_path)
    with pytest.raises(ElmoFormatError, match="corrupt"):
        download_model("small", cache=cache, base_url=server.url, force=True, progress=False)
    assert files_in(cache / "small") == ["options.json", "weights.hdf5"]
    assert same_weights(load_bilm(cache / "small"), tiny_bilm)


def test_invalid_cached_files_are_replaced(server, cache, tiny_bilm):
    directory = cache / "small"
    directory.mkdir(parents=True)
    (directory / "options.json").write_text("{}")
    (directory / "weights.hdf5").write_bytes(b"nonsense")
    download_model("small", cache=cache, base_url=server.url, progress=False)
    assert len(server.log) == 2
    assert same_weights(load_bilm(directory), tiny_bilm)


def test_unknown_name(cache):
    with pytest.raises(ElmoFormatError, match="small, medium, original, original-5.5B"):
        download_model("huge", cache=cache, base_url="http://127.0.0.1:9")
    assert not cache.exists()


def test_http_error(server, cache):
    del server.files[server.paths["weights.hdf5"]]
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_model("small", cache=cache, base_url=server.url, progress=False)
    assert files_in(cache / "small") == ["options.json.part"]


def test_force_redownloads(server, cache, tmp_path):
    download_model("small", cache=cache, base_url=server.url, progress=False)
    torch.manual_seed(2)
    replacement = ElmoBiLM(tiny_options())
    save_weights_files(replacement, tmp_path / "replacement")
    server.serve_model(tmp_path / "replacement")
    download_model("small", cache=cache, base_url=server.url, progress=False)
    assert len(server.log) == 2  # valid files: nothing downloaded
    # A stale partial file is discarded, not resumed.
    (cache / "small" / "weights.hdf5.part").write_bytes(b"stale")
    download_model("small", cache=cache, base_url=server.url, force=True, progress=False)
    assert len(server.log) == 4 and all(r["range"] is None for r in server.log)
    assert files_in(cache / "small") == ["options.json", "weights.hdf5"]
    assert same_weights(load_bilm(cache / "small"), replacement)


def test_download_command(server, cache):
    command = [sys.executable, "-m", "spacy_elmo", "download", "small"]
    command += ["--cache", str(cache), "--base-url", server.url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert files_in(cache / "small") == ["options.json", "weights.hdf5"]
    result = subprocess.run(command[:4] + ["huge"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Unknown ELMo model 'huge'" in result.stderr


def test_download_serving_the_reference_fixture(server, cache, fixtures_dir, tmp_path):
    """The shared fixture files themselves, served as the published "small" model."""
    served = tmp_path / "fixture"
    served.mkdir()
    shutil.copy(fixtures_dir / "options.json", served / "options.json")
    shutil.copy(fixtures_dir / "lm_weights.hdf5", served / "weights.hdf5")
    server.serve_model(served)
    path = server.paths["weights.hdf5"]
    server.faults[path] = ("truncate", 100_000)
    with pytest.raises(DownloadError, match="of 450896 bytes"):
        download_model("small", cache=cache, base_url=server.url, progress=False)
    directory = download_model("small", cache=cache, base_url=server.url, progress=False)
    assert (directory / "weights.hdf5").read_bytes() == (
        fixtures_dir / "lm_weights.hdf5"
    ).read_bytes()


# ELMoForManyLangs: one zip per model ---------------------------------------------

MANYLANGS_FILES = ["arch.json", "char.dic", "config.json", "encoder.pkl", "meta.json"]
MANYLANGS_FILES += ["token_embedder.pkl", "word.dic"]


@pytest.fixture
def manylangs_dir(tmp_path, monkeypatch):
    return write_reference_model(tmp_path / "zh-model", monkeypatch)


def model_zip(directory, folder="", skip=(), extra=None):
    """A zip of a model directory as the NLPL repository publishes it (with its
    meta.json and a README beside the model files), optionally in a sub-folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(folder + "meta.json", '{"id": 179, "corpus": "Wikipedia"}')
        zf.writestr(folder + "README", "ELMoForManyLangs")
        for path in sorted(directory.iterdir()):
            if path.name not in skip:
                zf.write(path, folder + path.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


def serve_zip(server, name, data):
    path = urlsplit(model_urls(name, server.url)[hub.MANYLANGS_ARCHIVE]).path
    server.files[path] = data
    return path


def same_vectors(a, b):
    with torch.inference_mode():
        return torch.equal(a.embed_tokens(SENTENCES).layers, b.embed_tokens(SENTENCES).layers)


def test_manylangs_names_and_urls():
    assert len(hub.MANYLANGS_MODELS) == 44 == len(set(hub.MANYLANGS_MODELS.values()))
    assert sorted(hub.MANYLANGS_MODELS.values()) == list(range(136, 180))
    assert hub.canonical_name("MANYLANGS-Nb") == "manylangs-nb"
    assert hub.canonical_name("manylangs-xx") is None
    assert model_urls("manylangs-zh") == {
        "model.zip": "http://vectors.nlpl.eu/repository/11/179.zip"
    }
    assert model_urls("manylangs-grc", "http://mirror/elmo/") == {
        "model.zip": "http://mirror/elmo/153.zip"
    }
    with pytest.raises(ElmoFormatError, match="manylangs-LANG for LANG in ar, bg,.* zh"):
        download_model("manylangs-xx", base_url="http://127.0.0.1:9")


def test_manylangs_download_then_load(server, cache, manylangs_dir, monkeypatch):
    path = serve_zip(server, "manylangs-zh", model_zip(manylangs_dir))
    directory = download_model("Manylangs-ZH", cache=cache, base_url=server.url, progress=True)
    assert directory == cache / "manylangs-zh"
    assert files_in(cache) == ["manylangs-zh"]  # no .part and no unpacking folder left
    assert files_in(directory) == MANYLANGS_FILES
    original = load_bilm(manylangs_dir)
    assert same_weights(load_bilm(directory), original)
    assert same_vectors(load_bilm(directory), original)
    # By name, in any case, through the resolver and the component.
    monkeypatch.setenv("SPACY_ELMO_CACHE", str(cache))
    files = resolve_weights("MANYLANGS-zh")
    assert (files.kind, files.folder) == ("elmoformanylangs", directory)
    assert (files.options, files.weights) == (directory / "config.json", directory / "encoder.pkl")
    assert same_vectors(load_bilm("manylangs-Zh"), original)
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo", config={"weights": "manylangs-zh", "layers": "all"})
    nlp.initialize()
    doc = nlp("the bank .")
    with torch.inference_mode():
        expected = original.embed_tokens([["the", "bank", "."]]).layers[:, 0].numpy()
    np.testing.assert_allclose(doc._.elmo.layers, expected, atol=1e-5, rtol=0)
    # Already there and valid: the server is not contacted again.
    assert download_model("manylangs-zh", cache=cache, base_url=server.url) == directory
    assert [r["path"] for r in server.log] == [path]


def test_manylangs_not_in_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_ELMO_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ElmoFormatError, match="`python -m spacy_elmo download manylangs-zh`"):
        resolve_weights("Manylangs-ZH")


def test_manylangs_zip_in_a_folder_resumes(server, cache, manylangs_dir):
    data = model_zip(manylangs_dir, folder="zh.model/", extra={"__MACOSX/._config.json": "x"})
    path = serve_zip(server, "manylangs-zh", data)
    server.faults[path] = ("truncate", len(data) // 2)
    with pytest.raises(DownloadError, match="resume"):
        download_model("manylangs-zh", cache=cache, base_url=server.url, progress=False)
    assert files_in(cache) == ["manylangs-zh.zip.part"]
    directory = download_model("manylangs-zh", cache=cache, base_url=server.url, progress=False)
    assert server.log[-1]["range"] == f"bytes={len(data) // 2}-"
    assert files_in(cache) == ["manylangs-zh"]
    assert files_in(directory) == MANYLANGS_FILES
    assert same_vectors(load_bilm(directory), load_bilm(manylangs_dir))


@pytest.mark.parametrize(
    "kind,message",
    [
        ("zip-slip", "'../evil' points outside it"),
        ("no-encoder", "the archive has no encoder.pkl in the top level"),
        ("two-configs", "expected one config.json in the archive, found 2"),
        ("bad-weights", "encoder.pkl: not a PyTorch state dict"),
        ("not-a-zip", "File is not a zip file"),
    ],
)
def test_bad_manylangs_zip_is_refused(server, cache, tmp_path, manylangs_dir, kind, message):
    if kind == "zip-slip":
        data = model_zip(manylangs_dir, extra={"../evil": "pwned"})
    elif kind == "no-encoder":
        data = model_zip(manylangs_dir, skip={"encoder.pkl"})
    elif kind == "two-configs":
        data = model_zip(manylangs_dir, extra={"copy/config.json": "{}"})
    elif kind == "bad-weights":
        (manylangs_dir / "encoder.pkl").write_bytes(b"not a pickle")
        data = model_zip(manylangs_dir)
    else:
        data = b"<html>Not here</html>"
    url = server.url + serve_zip(server, "manylangs-zh", data)
    with pytest.raises(ElmoFormatError) as excinfo:
        download_model("manylangs-zh", cache=cache, base_url=server.url, progress=False)
    text = str(excinfo.value)
    assert "\n" not in text and message in text
    assert text.startswith(f"The download of 'manylangs-zh' ({url}) is not a usable")
    assert files_in(cache) == []
    assert not (tmp_path / "evil").exists() and not (cache.parent / "evil").exists()


def test_manylangs_force_replaces_and_keeps_a_good_copy(
    server, cache, tmp_path, manylangs_dir, monkeypatch
):
    serve_zip(server, "manylangs-zh", model_zip(manylangs_dir))
    directory = download_model("manylangs-zh", cache=cache, base_url=server.url, progress=False)
    (directory / "stale.txt").write_text("from before")
    # A corrupt replacement leaves the cached model as it was.
    serve_zip(server, "manylangs-zh", model_zip(manylangs_dir, skip={"word.dic"}))
    with pytest.raises(ElmoFormatError, match="no word.dic"):
        download_model("manylangs-zh", cache=cache, base_url=server.url, force=True)
    assert files_in(cache) == ["manylangs-zh"]
    assert "stale.txt" in files_in(directory)
    # A good one replaces the whole directory.
    other = write_reference_model(tmp_path / "other", monkeypatch, seed=1)
    serve_zip(server, "manylangs-zh", model_zip(other))
    download_model("manylangs-zh", cache=cache, base_url=server.url, force=True, progress=False)
    assert files_in(cache) == ["manylangs-zh"]
    assert files_in(directory) == MANYLANGS_FILES
    assert same_vectors(load_bilm(directory), load_bilm(other))
    assert not same_vectors(load_bilm(directory), load_bilm(manylangs_dir))


def test_manylangs_download_command(server, cache, manylangs_dir):
    serve_zip(server, "manylangs-zh", model_zip(manylangs_dir))
    command = [sys.executable, "-m", "spacy_elmo", "download", "manylangs-ZH"]
    command += ["--cache", str(cache), "--base-url", server.url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"is in {cache / 'manylangs-zh'}" in result.stdout
    assert files_in(cache / "manylangs-zh") == MANYLANGS_FILES
