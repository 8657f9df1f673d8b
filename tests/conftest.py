import os
from pathlib import Path

import pytest
import torch

from spacy_elmo import ElmoBiLM

from .util import tiny_options

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "elmo-fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The shared reference fixtures; skipped where absent, except in CI."""
    if not (FIXTURES / "lm_weights.hdf5").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI=true but the ELMo fixtures are missing at {FIXTURES}")
        pytest.skip(f"ELMo fixtures not found at {FIXTURES}")
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
