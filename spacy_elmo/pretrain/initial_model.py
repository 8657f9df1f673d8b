"""The language model and optimiser a run starts from: a new biLM as [model] says, or
the biLM of `init_weights` to adapt, with a new softmax or the one saved beside it."""

from pathlib import Path
from typing import Callable

import torch
from thinc.api import Config

from ..bilm.manylangs import ManyLangsBiLM
from ..bilm.model import ElmoBiLM
from ..bilm.options import ElmoOptions, make_options
from ..bilm.softmax import FullSoftmax, LMSoftmax, make_softmax
from ..errors import ElmoFormatError
from ..io.references import load_bilm, resolve_weights
from .model_files import SOFTMAX_FILE, VOCAB_FILE, load_softmax
from .objective import BiLanguageModel
from .vocab import Vocabulary

Log = Callable[[str], None]


def build_model(config: Config, vocab: Vocabulary, log: Log) -> BiLanguageModel:
    """A new biLM from [model], or the biLM of `init_weights` (adapting); the softmax
    is new, or taken from `init_weights` for the words both vocabularies share."""
    init = config["training"]["init_weights"]
    if init is not None:
        bilm = load_bilm(init, token_cache_size=0)
        if isinstance(bilm, ManyLangsBiLM):
            raise ElmoFormatError(
                f"--paths.init_weights {init}: adapting starts from bilm-tf/AllenNLP-format "
                "biLMs; an ELMoForManyLangs model (word+character token layer) cannot be "
                "adapted here"
            )
        log(f"Adapting the biLM of {init}")
    else:
        options = ElmoOptions.from_dict(make_options(**config["model"]), "[model]")
        bilm = ElmoBiLM(options, token_cache_size=0)
    softmax = _softmax(config, len(vocab), bilm.options.projection_dim)
    if init is not None:
        _init_softmax(softmax, resolve_weights(init).folder, vocab, log)
    return BiLanguageModel(bilm, softmax, config["training"]["dropout"])


def _softmax(config: Config, n_words: int, dim: int) -> LMSoftmax:
    cfg = config["softmax"]
    if cfg["kind"] == "adaptive":
        return make_softmax(
            "adaptive", n_words, dim, cutoffs=cfg["cutoffs"], div_value=cfg["div_value"]
        )
    if cfg["kind"] == "sampled":
        return make_softmax("sampled", n_words, dim, n_samples=cfg["n_samples"])
    return make_softmax(cfg["kind"], n_words, dim)


@torch.no_grad()
def _init_softmax(softmax: LMSoftmax, init: Path, vocab: Vocabulary, log: Log) -> None:
    """Start from the softmax of a model we pretrained, when there is one: all of it
    if the vocabularies are equal, else the rows of shared words (full or sampled)."""
    if not (init / SOFTMAX_FILE).is_file() or not (init / VOCAB_FILE).is_file():
        log("No softmax to start from (published weights have none): a new one is trained")
        return
    old = load_softmax(init / SOFTMAX_FILE)
    old_vocab = Vocabulary.from_disk(init / VOCAB_FILE)
    if old_vocab.words == vocab.words and old.settings() == softmax.settings():
        softmax.load_state_dict(old.state_dict())
        log("Continuing with the softmax of the initial model (same vocabulary)")
    elif isinstance(old, FullSoftmax) and isinstance(softmax, FullSoftmax):
        new_ids, old_ids = [], []
        for i, word in enumerate(vocab.words):
            if word in old_vocab.index:
                new_ids.append(i)
                old_ids.append(old_vocab.index[word])
        softmax.weight[new_ids] = old.weight[old_ids]
        softmax.bias[new_ids] = old.bias[old_ids]
        log(f"Softmax rows of {len(new_ids):,} shared words taken from the initial model")
    else:
        log("The vocabulary changed: a new adaptive softmax is trained")
