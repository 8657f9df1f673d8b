"""The pretraining loop: data, model, optimiser, logging, evaluation, checkpoints.

The output directory holds, from the first checkpoint on, a usable model
(`options.json`, `weights.hdf5`, `vocab.txt`, `softmax.hdf5`), the resolved
`config.cfg`, `train_log.jsonl`, the tokenised corpus (`corpus/`) and
`checkpoint.hdf5`. Running the command again on the same directory resumes
exactly where the last checkpoint stopped: model, optimiser, LSTM state, data
position and random state.

Under `torchrun` (WORLD_SIZE > 1) each process trains a slice of the batch's rows
with DistributedDataParallel (gloo on CPU, nccl on GPU); process 0 writes files.
"""

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from thinc.api import Config
from torch import nn

from ..bilm.lstm import LstmState
from ..bilm.model import ElmoBiLM
from ..bilm.options import ElmoOptions, make_options
from ..bilm.softmax import FullSoftmax, LMSoftmax, make_softmax
from ..io.atomic import atomic_path, remove_stale_temporaries
from ..io.references import load_bilm
from ..io.weights import OPTIONS_FILE, WEIGHTS_FILE
from .batches import StreamBatcher, Window
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .corpus import (
    TOKENS_FILE,
    TYPES_FILE,
    TokenizedText,
    sentence_pipeline,
    text_files,
    tokenize_files,
)
from .model_files import SOFTMAX_FILE, VOCAB_FILE, export_model, load_softmax
from .objective import BiLanguageModel, WindowResult
from .vocab import Vocabulary, unigram_log_probs, unigram_perplexity

CHECKPOINT_FILE = "checkpoint.hdf5"
LOG_FILE = "train_log.jsonl"
CONFIG_FILE = "config.cfg"
CORPUS_DIR = "corpus"
# Beside each tokenised corpus: what it was tokenised from.
SOURCE_FILE = "source.json"
OUR_FILES = {CHECKPOINT_FILE, LOG_FILE, CONFIG_FILE, CORPUS_DIR, VOCAB_FILE, SOFTMAX_FILE}
# Written by a run of ours, but also what a user's weights directory holds: they count
# as ours only beside our config.cfg.
EXPORT_FILES = {OPTIONS_FILE, WEIGHTS_FILE}

Log = Callable[[str], None]


class Perplexity(Dict[str, float]):
    """Held-out perplexity: 'forward', 'backward' and 'average' (exp of the mean
    NLL of both directions), plus 'tokens' evaluated per direction."""


def pretrain(output: Path, config: Config, *, log: Log = print) -> Dict[str, Any]:
    """Train (or resume training) a biLM as `config` says, writing into `output`.

    output (Path): The output directory; an existing one must be ours (it then
        resumes) or empty.
    config (Config): An interpolated config from `config.load_config`.
    log (Log): Where progress lines go.
    RETURNS (Dict[str, Any]): The final progress record, with held-out perplexity.
    """
    rank, world = _init_distributed(config["system"]["gpu_id"])
    log = log if rank == 0 else (lambda _: None)
    _check_output_dir(output, config)
    system, training = config["system"], config["training"]
    if system["threads"] > 0:
        torch.set_num_threads(system["threads"])
    device = _device(system["gpu_id"], rank)
    train_text, heldout_text = _corpora(output, config, rank, log)
    vocab = _vocabulary(output, config, train_text, rank)
    log(
        f"Corpus: {train_text.n_tokens:,} training tokens in {train_text.n_sentences:,} "
        f"sentences, {len(vocab.words):,} words in the vocabulary"
    )
    if training["batch_size"] % world:
        raise ValueError(
            f"[training] batch_size {training['batch_size']} must divide by the {world} processes"
        )
    per_rank = training["batch_size"] // world
    batcher = training_batcher(
        train_text, vocab, config, rows=(rank * per_rank, (rank + 1) * per_rank)
    )
    torch.manual_seed(system["seed"] + rank)
    model = build_model(config, vocab, log).to(device)
    optimizer = make_optimizer(model, training)
    step, lstm_state = 0, None
    progress: Dict[str, Any] = {"tokens": 0, "elapsed": 0.0}
    checkpoint_path = output / CHECKPOINT_FILE
    vocab_hash = _hash(vocab.words)
    if checkpoint_path.exists():
        ckpt = load_checkpoint(checkpoint_path)
        if ckpt.progress.get("vocab_hash") != vocab_hash:
            raise ValueError(
                f"The vocabulary built from the training text does not match the one of the "
                f"run being resumed in {output} (did the text or [vocab] change?). Use a new "
                "output directory, or restore the original text and settings."
            )
        model.load_state_dict(ckpt.model)
        optimizer.load_state_dict(ckpt.optimizer)
        torch.set_rng_state(ckpt.rng)
        if ckpt.lstm_state is not None:
            lstm_state = (ckpt.lstm_state[0].to(device), ckpt.lstm_state[1].to(device))
        progress = ckpt.progress
        step = progress["step"]
        log(f"Resuming from step {step:,} ({checkpoint_path})")
        _truncate_log(output / LOG_FILE, step)
    elif rank == 0:
        config.to_disk(output / CONFIG_FILE)
    heldout = heldout_batcher(heldout_text, vocab, config)
    if heldout is not None and step == 0 and rank == 0:
        # On the same held-out tokens as the evaluations (max_eval_tokens may cut them).
        unigram = unigram_perplexity(unigram_log_probs(vocab, train_text), vocab, heldout.text)
        _append_log(output, {"step": 0, "unigram_heldout_perplexity": unigram})
        log(f"Unigram model's held-out perplexity: {unigram:.1f}")
    trained = _distributed(model, world, config["softmax"]["kind"], device)
    limit = _step_limit(training, batcher.windows_per_epoch)
    started = time.perf_counter() - progress["elapsed"]
    session_start = time.perf_counter()
    window_tokens = batcher.tokens_per_window
    recent: List[float] = []
    rate_clock, rate_tokens = time.perf_counter(), 0
    model.train()
    while step < limit:
        epoch, index = divmod(step, batcher.windows_per_epoch)
        if index == 0:
            lstm_state = None
        result = train_step(trained, optimizer, batcher.window(epoch, index), lstm_state, training)
        lstm_state = result.state
        step += 1
        progress["tokens"] += window_tokens
        rate_tokens += window_tokens
        recent.append(_global_mean(result.loss.detach(), world))
        if step % training["log_every"] == 0 or step == limit:
            now = time.perf_counter()
            rate = rate_tokens / (now - rate_clock)
            loss = float(np.mean(recent))
            record = {
                "step": step,
                "epoch": epoch,
                "loss": loss,
                "perplexity": math.exp(min(loss, 50.0)),
                "tokens": progress["tokens"],
                "tokens_per_second": rate,
                "elapsed": now - started,
            }
            eta = (limit - step) * window_tokens / max(rate, 1e-9)
            if training["max_minutes"] > 0:
                eta = min(eta, training["max_minutes"] * 60 - (now - session_start))
            log(
                f"step {step:,}/{limit:,}  epoch {epoch + 1} "
                f"({100 * index / batcher.windows_per_epoch:.0f}%)"
                f"  loss {loss:.3f}  ppl {record['perplexity']:.1f}  {rate:,.0f} tok/s"
                f"  ETA {_duration(eta)}"
            )
            if rank == 0:
                _append_log(output, record)
            recent, rate_clock, rate_tokens = [], now, 0
        out_of_time = (
            training["max_minutes"] > 0
            and time.perf_counter() - session_start >= training["max_minutes"] * 60
        )
        evaluate_now = heldout is not None and (
            step % training["eval_every"] == 0 or step == limit or out_of_time
        )
        if evaluate_now and rank == 0 and heldout is not None:
            ppl = evaluate(model, heldout)
            model.train()
            _append_log(output, {"step": step, "heldout": ppl})
            log(
                f"held-out perplexity at step {step:,}: forward {ppl['forward']:.1f}, "
                f"backward {ppl['backward']:.1f}, average {ppl['average']:.1f}"
            )
        if step % training["checkpoint_every"] == 0 or step == limit or out_of_time:
            progress.update(step=step, elapsed=time.perf_counter() - started, vocab_hash=vocab_hash)
            if world > 1:
                _check_in_sync(model, world, step, log)
            if rank == 0:
                _save(output, model, optimizer, lstm_state, progress, vocab)
            _barrier(world)
        if out_of_time:
            log(f"Stopping after [training] max_minutes = {training['max_minutes']}")
            break
    if world > 1:
        # Drop the DDP wrapper (and its reducer threads) before the process group it
        # uses, once every process is done: else a process may abort at exit.
        del trained
        _barrier(world)
        dist.destroy_process_group()
    log(f"Model written to {output}")
    return progress


def training_batcher(
    text: TokenizedText,
    vocab: Vocabulary,
    config: Config,
    rows: Optional[Tuple[int, int]] = None,
) -> StreamBatcher:
    """The training windows of `text` as the config's [training] and [system] say.

    rows (Optional[Tuple[int, int]]): This process's slice of the batch rows.
    RETURNS (StreamBatcher): The batcher.
    """
    return StreamBatcher(
        text,
        vocab,
        batch_size=config["training"]["batch_size"],
        unroll_steps=config["training"]["unroll_steps"],
        max_chars=config["model"]["max_characters_per_token"],
        seed=config["system"]["seed"],
        rows=rows,
    )


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    window: Window,
    state: Optional[LstmState],
    training: Dict[str, Any],
) -> WindowResult:
    """One optimiser step of the recipe: gradients of `loss * unroll_steps`, clipped
    to a global norm of `clip_norm`.

    model (nn.Module): The BiLanguageModel (or its DistributedDataParallel wrapper).
    RETURNS (WindowResult): The window's loss and the state to carry on with.
    """
    result = model(window, state)
    optimizer.zero_grad(set_to_none=True)
    (result.loss * training["unroll_steps"]).backward()
    nn.utils.clip_grad_norm_(model.parameters(), training["clip_norm"])
    optimizer.step()
    return result


def evaluate(model: BiLanguageModel, batcher: StreamBatcher) -> Perplexity:
    """Exact perplexity of the model on every window of `batcher` (in order, the
    LSTM state carried), without dropout.

    RETURNS (Perplexity): Forward, backward and average perplexity.
    """
    was_training = model.training
    model.eval()
    state: Optional[LstmState] = None
    forward = backward = 0.0
    n = 0
    for window in batcher.eval_windows():
        result = model.log_likelihood(window, state)
        state = result.state
        forward += float(result.forward_nll)
        backward += float(result.backward_nll)
        n += window.n_predictions // 2
    model.train(was_training)
    return Perplexity(
        forward=math.exp(forward / n),
        backward=math.exp(backward / n),
        average=math.exp((forward + backward) / (2 * n)),
        tokens=float(n),
    )


def _check_output_dir(output: Path, config: Config) -> None:
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(f"Output {output} exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)
    _remove_temporaries(output)
    if (output / CHECKPOINT_FILE).exists():
        saved = output / CONFIG_FILE
        if saved.exists():
            before = Config().from_disk(saved, interpolate=False)["model"]
            if dict(before) != dict(config["model"]):
                raise ValueError(
                    f"{output} holds a run with different [model] settings ({saved}); "
                    "use a new output directory"
                )
        return
    ours = OUR_FILES | (EXPORT_FILES if (output / CONFIG_FILE).exists() else set())
    foreign = [p.name for p in output.iterdir() if p.name not in ours]
    if foreign:
        raise FileExistsError(
            f"Output directory {output} already holds other files "
            f"({', '.join(sorted(foreign)[:5])}); "
            "give an empty or new directory (nothing in it is overwritten)"
        )


def _remove_temporaries(output: Path) -> None:
    """Delete the half-written files a killed run of ours left (never anything else)."""
    names = OUR_FILES | EXPORT_FILES | {TYPES_FILE, TOKENS_FILE, SOURCE_FILE}
    for directory in [output, *output.glob(f"{CORPUS_DIR}/*")]:
        remove_stale_temporaries(directory, names)


def _init_distributed(gpu_id: int) -> Tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if gpu_id >= 0 and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def _device(gpu_id: int, rank: int) -> torch.device:
    if gpu_id < 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError(f"[system] gpu_id is {gpu_id} but CUDA is not available")
    local = int(os.environ.get("LOCAL_RANK", rank))
    return torch.device("cuda", gpu_id + local)


def _corpora(
    output: Path, config: Config, rank: int, log: Log
) -> Tuple[TokenizedText, Optional[TokenizedText]]:
    """Tokenise the training and held-out text once (process 0), cached in
    `corpus/` with the list of source files, sizes and times it was made from."""
    corpus = config["corpus"]
    if corpus["train"] is None:
        raise ValueError("No training text: set [corpus] train (or --paths.train)")
    texts: Dict[str, TokenizedText] = {}
    for split in ("train", "heldout"):
        if corpus[split] is None:
            continue
        files = text_files(str(corpus[split]))
        stamp = {
            "files": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files],
            "spacy_model": corpus["spacy_model"],
        }
        where = output / CORPUS_DIR / split
        if rank == 0 and _read_json(where / SOURCE_FILE) != stamp:
            log(f"Tokenising {split} text ({len(files)} files) with {corpus['spacy_model']}")
            text = tokenize_files(files, sentence_pipeline(corpus["spacy_model"]))
            text.to_disk(where)
            with atomic_path(where / SOURCE_FILE) as tmp:
                tmp.write_text(json.dumps(stamp))
        _barrier(int(os.environ.get("WORLD_SIZE", "1")))
        texts[split] = TokenizedText.from_disk(where)
    return texts["train"], texts.get("heldout")


def _vocabulary(output: Path, config: Config, text: TokenizedText, rank: int) -> Vocabulary:
    vocab = Vocabulary.build(
        text, min_count=config["vocab"]["min_count"], max_size=config["vocab"]["max_size"]
    )
    if rank == 0 and not (output / CHECKPOINT_FILE).exists():
        vocab.to_disk(output / VOCAB_FILE)
    return vocab


def build_model(config: Config, vocab: Vocabulary, log: Log) -> BiLanguageModel:
    """A new biLM from [model], or the biLM of `init_weights` (adapting); the softmax
    is new, or taken from `init_weights` for the words both vocabularies share."""
    init = config["training"]["init_weights"]
    if init is not None:
        bilm = load_bilm(init, token_cache_size=0)
        log(f"Adapting the biLM of {init}")
    else:
        options = ElmoOptions.from_dict(make_options(**config["model"]), "[model]")
        bilm = ElmoBiLM(options, token_cache_size=0)
    softmax = _softmax(config, len(vocab), bilm.options.projection_dim)
    if init is not None:
        _init_softmax(softmax, Path(str(init)), vocab, log)
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


def make_optimizer(model: nn.Module, training: Dict[str, Any]) -> torch.optim.Optimizer:
    if training["optimizer"] == "adagrad":
        return torch.optim.Adagrad(
            model.parameters(),
            lr=training["learn_rate"],
            initial_accumulator_value=training["initial_accumulator"],
        )
    return torch.optim.Adam(model.parameters(), lr=training["learn_rate"])


def _distributed(
    model: BiLanguageModel, world: int, softmax_kind: str, device: torch.device
) -> nn.Module:
    if world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    # Tail clusters of the adaptive softmax get no gradient in a batch without their words.
    return DistributedDataParallel(
        model,
        device_ids=[device] if device.type == "cuda" else None,
        find_unused_parameters=softmax_kind == "adaptive",
    )


def _global_mean(value: torch.Tensor, world: int) -> float:
    if world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= world
    return float(value)


@torch.no_grad()
def _check_in_sync(model: nn.Module, world: int, step: int, log: Log) -> None:
    """Make sure every process holds the same weights (a cheap checksum)."""
    total = torch.stack([p.double().sum() for p in model.parameters()]).sum().reshape(1)
    gathered = [torch.zeros_like(total) for _ in range(world)]
    dist.all_gather(gathered, total)
    values = [float(g) for g in gathered]
    if max(values) - min(values) > 1e-6 * max(1.0, abs(values[0])):
        raise RuntimeError(f"Processes out of sync at step {step}: weight checksums {values}")
    log(f"{world} processes in sync at step {step:,} (weight checksum {values[0]:.6f})")


def _barrier(world: int) -> None:
    if world > 1 and dist.is_initialized():
        dist.barrier()


def _step_limit(training: Dict[str, Any], windows_per_epoch: int) -> int:
    limit = training["max_epochs"] * windows_per_epoch
    if training["max_steps"] > 0:
        limit = min(limit, training["max_steps"])
    return limit


def heldout_batcher(
    text: Optional[TokenizedText], vocab: Vocabulary, config: Config
) -> Optional[StreamBatcher]:
    """The held-out windows evaluated during training: at most `max_eval_tokens`
    tokens, every k-th sentence, so that a held-out file in source order is sampled
    across all of its sources."""
    if text is None:
        return None
    training = config["training"]
    limit = training["max_eval_tokens"]
    if limit > 0 and text.n_tokens > limit:
        text = every_kth_sentence(text, math.ceil(text.n_tokens / limit))
    return StreamBatcher(
        text,
        vocab,
        batch_size=min(
            training["eval_batch_size"], max(1, text.n_tokens // training["unroll_steps"])
        ),
        unroll_steps=training["unroll_steps"],
        max_chars=config["model"]["max_characters_per_token"],
    )


def every_kth_sentence(text: TokenizedText, k: int) -> TokenizedText:
    """Sentences 0, k, 2k, ... of `text`.

    RETURNS (TokenizedText): The sample, sharing the type table.
    """
    chosen = np.arange(0, text.n_sentences, k)
    lengths = text.starts[chosen + 1] - text.starts[chosen]
    index = np.concatenate([np.arange(text.starts[i], text.starts[i + 1]) for i in chosen])
    starts = np.concatenate([[0], np.cumsum(lengths)])
    return TokenizedText(text.types, text.ids[index], starts.astype(np.int64))


def _save(
    output: Path,
    model: BiLanguageModel,
    optimizer: torch.optim.Optimizer,
    lstm_state: Optional[LstmState],
    progress: Dict[str, Any],
    vocab: Vocabulary,
) -> None:
    export_model(output, model, vocab)
    save_checkpoint(
        output / CHECKPOINT_FILE,
        Checkpoint(
            model.state_dict(), optimizer.state_dict(), lstm_state, torch.get_rng_state(), progress
        ),
    )


def _append_log(output: Path, record: Dict[str, Any]) -> None:
    with (output / LOG_FILE).open("a", encoding="utf8") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """Drop log records after the checkpoint a run resumes from."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError):
            continue  # a line cut off by a kill
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in kept))


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _hash(words: List[str]) -> str:
    return hashlib.sha256("\n".join(words).encode("utf8")).hexdigest()


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )
