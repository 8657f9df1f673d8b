from pathlib import Path

import pytest
import torch

from spacy_elmo import ElmoBiLM

from .util import tiny_options

FIXTURE_FILES = (
    "options.json",
    "lm_weights.hdf5",
    "sentences.json",
    "lm_embeddings_0.hdf5",
    "lm_embeddings_1.hdf5",
    "lm_embeddings_2.hdf5",
    "vocab_test.txt",
    "elmo_token_embeddings.hdf5",
)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "elmo"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The reference model and vectors in tests/fixtures/elmo (see its README); a missing
    file fails the test, never skips it."""
    missing = [name for name in FIXTURE_FILES if not (FIXTURES / name).is_file()]
    if missing:
        pytest.fail(f"ELMo fixtures missing from {FIXTURES}: {missing}")
    return FIXTURES


@pytest.fixture
def tiny_bilm() -> ElmoBiLM:
    torch.manual_seed(0)
    model = ElmoBiLM(tiny_options())
    # Non-zero biases so that every parameter matters in the tests.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1 or (p.dim() == 2 and p.shape[0] == 2):
                p.uniform_(-0.3, 0.3)
    return model.eval()
