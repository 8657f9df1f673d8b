"""The pretraining loop: data, model, optimiser, logging, evaluation, checkpoints.

The output directory holds, from the first checkpoint on, a usable model
(`options.json`, `weights.hdf5`, `vocab.txt`, `softmax.hdf5`), the resolved
`config.cfg`, `train_log.jsonl`, the tokenised corpus (`corpus/`) and
`checkpoint.hdf5`. Running the command again on the same directory resumes
exactly where the last checkpoint stopped: model, optimiser, LSTM state, data
position and random state.

Under `torchrun` (WORLD_SIZE > 1) each process trains a slice of the batch's rows
(see `distributed`); process 0 writes files.
"""

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from thinc.api import Config
from torch import nn

from ..bilm.lstm import LstmState
from .batches import StreamBatcher, Window
from .checkpoint import CHECKPOINT_FILE, Checkpoint, load_checkpoint, save_checkpoint
from .corpus import TokenizedText, text_files, update_tokenized
from .distributed import (
    barrier,
    check_in_sync,
    global_mean,
    init_distributed,
    leave,
    process_device,
    wrap_model,
)
from .initial_model import build_model
from .model_files import VOCAB_FILE, export_model
from .objective import BiLanguageModel, WindowResult
from .optim import learn_rate, make_optimizer, run_done, set_learn_rate
from .output_dir import CORPUS_DIR, append_log, check_output_dir, save_config, truncate_log
from .vocab import Vocabulary, unigram_log_probs, unigram_perplexity

Log = Callable[[str], None]


class Perplexity(Dict[str, float]):
    """Held-out perplexity: 'forward', 'backward' and 'average' (exp of the mean
    NLL of both directions), plus 'tokens' evaluated per direction."""


@dataclass
class _Position:
    """Where training stands: windows trained, the LSTM state carried into the next
    one, and the progress record (tokens, elapsed seconds, ...) a checkpoint keeps."""

    step: int
    lstm_state: Optional[LstmState]
    progress: Dict[str, Any]


@dataclass
class _Run:
    """What a training session works with."""

    output: Path
    training: Dict[str, Any]
    model: BiLanguageModel
    optimizer: torch.optim.Optimizer
    vocab: Vocabulary
    batcher: StreamBatcher
    heldout: Optional[StreamBatcher]
    position: _Position
    rank: int
    world: int
    log: Log

    @property
    def vocab_hash(self) -> str:
        """What a checkpoint keeps of the vocabulary, to resume with the same one."""
        return _hash(self.vocab.words)


class _Meter:
    """The session's clocks (time over all sessions of the run, the time limit) and
    the losses and tokens since the last progress line."""

    def __init__(self, elapsed: float, max_minutes: float) -> None:
        # As if the earlier sessions of the run had ended just before this one.
        self.started = time.perf_counter() - elapsed
        self.session_start = time.perf_counter()
        self.max_minutes = max_minutes
        self.losses: List[float] = []
        self.since, self.tokens = time.perf_counter(), 0

    def add(self, loss: float, tokens: int) -> None:
        """Count a trained window."""
        self.losses.append(loss)
        self.tokens += tokens

    def restart(self, now: float) -> None:
        """Start the next progress line's counts."""
        self.losses, self.since, self.tokens = [], now, 0

    def session_seconds(self) -> float:
        """Seconds since this session started."""
        return time.perf_counter() - self.session_start

    def out_of_time(self) -> bool:
        """Whether this session has run for [training] max_minutes."""
        return self.max_minutes > 0 and self.session_seconds() >= self.max_minutes * 60


def pretrain(output: Path, config: Config, *, log: Log = print) -> Dict[str, Any]:
    """Train (or resume training) a biLM as `config` says, writing into `output`.

    output (Path): The output directory; an existing one must be ours (it then
        resumes) or empty.
    config (Config): An interpolated config from `config.load_config`.
    log (Log): Where progress lines go.
    RETURNS (Dict[str, Any]): The final progress record, with held-out perplexity.
    """
    rank, world = init_distributed(config["system"]["gpu_id"])
    log = log if rank == 0 else (lambda _: None)
    check_output_dir(output, config)
    device = _set_up_torch(config["system"], rank)
    train_text, heldout_text = _corpora(output, config, rank, world, log)
    vocab = _vocabulary(output, config, train_text, rank, log)
    batcher = training_batcher(train_text, vocab, config, rows=_rows(config, rank, world))
    torch.manual_seed(config["system"]["seed"] + rank)
    model = build_model(config, vocab, log).to(device)
    optimizer = make_optimizer(model, config["training"])
    position = _resume(output, config, model, optimizer, vocab, device, rank, log)
    heldout = heldout_batcher(heldout_text, vocab, config)
    if heldout is not None and position.step == 0 and rank == 0:
        _log_unigram_baseline(output, vocab, train_text, heldout, log)
    run = _Run(
        output=output,
        training=config["training"],
        model=model,
        optimizer=optimizer,
        vocab=vocab,
        batcher=batcher,
        heldout=heldout,
        position=position,
        rank=rank,
        world=world,
        log=log,
    )
    trained = wrap_model(model, world, config["softmax"]["kind"], device)
    _train(run, trained)
    # The DDP wrapper (and its reducer threads) goes before the process group it uses.
    del trained
    leave(world)
    log(f"Model written to {output}")
    return position.progress


def _set_up_torch(system: Dict[str, Any], rank: int) -> torch.device:
    """Set torch's thread count as [system] says; return this process's device."""
    if system["threads"] > 0:
        torch.set_num_threads(system["threads"])
    return process_device(system["gpu_id"], rank)


def _corpora(
    output: Path, config: Config, rank: int, world: int, log: Log
) -> Tuple[TokenizedText, Optional[TokenizedText]]:
    """The training and held-out text, tokenised by process 0 into `corpus/<split>`
    unless it is there already (see `update_tokenized`)."""
    corpus = config["corpus"]
    if corpus["train"] is None:
        raise ValueError("No training text: set [corpus] train (or --paths.train)")
    texts: Dict[str, TokenizedText] = {}
    for split in ("train", "heldout"):
        if corpus[split] is None:
            continue
        files = text_files(str(corpus[split]))
        where = output / CORPUS_DIR / split
        if rank == 0:
            update_tokenized(where, files, corpus["spacy_model"], log)
        barrier(world)
        texts[split] = TokenizedText.from_disk(where)
    return texts["train"], texts.get("heldout")


def _vocabulary(
    output: Path, config: Config, text: TokenizedText, rank: int, log: Log
) -> Vocabulary:
    """The vocabulary of the training text as [vocab] says (saved by a new run)."""
    vocab = Vocabulary.build(
        text, min_count=config["vocab"]["min_count"], max_size=config["vocab"]["max_size"]
    )
    if rank == 0 and not (output / CHECKPOINT_FILE).exists():
        vocab.to_disk(output / VOCAB_FILE)
    log(
        f"Corpus: {text.n_tokens:,} training tokens in {text.n_sentences:,} "
        f"sentences, {len(vocab.words):,} words in the vocabulary"
    )
    return vocab


def _rows(config: Config, rank: int, world: int) -> Tuple[int, int]:
    """This process's slice of the batch's rows."""
    batch_size = config["training"]["batch_size"]
    if batch_size % world:
        raise ValueError(f"[training] batch_size {batch_size} must divide by the {world} processes")
    per_rank = batch_size // world
    return rank * per_rank, (rank + 1) * per_rank


def _resume(
    output: Path,
    config: Config,
    model: BiLanguageModel,
    optimizer: torch.optim.Optimizer,
    vocab: Vocabulary,
    device: torch.device,
    rank: int,
    log: Log,
) -> _Position:
    """Load the output directory's checkpoint into the model and optimiser, with the
    random and LSTM state; a new run saves its config and starts at step 0."""
    path = output / CHECKPOINT_FILE
    if not path.exists():
        if rank == 0:
            save_config(output, config)
        return _Position(step=0, lstm_state=None, progress={"tokens": 0, "elapsed": 0.0})
    ckpt = load_checkpoint(path)
    if ckpt.progress.get("vocab_hash") != _hash(vocab.words):
        raise ValueError(
            f"The vocabulary built from the training text does not match the one of the "
            f"run being resumed in {output} (did the text or [vocab] change?). Use a new "
            "output directory, or restore the original text and settings."
        )
    model.load_state_dict(ckpt.model)
    optimizer.load_state_dict(ckpt.optimizer)
    torch.set_rng_state(ckpt.rng)
    lstm_state = None
    if ckpt.lstm_state is not None:
        lstm_state = (ckpt.lstm_state[0].to(device), ckpt.lstm_state[1].to(device))
    step = ckpt.progress["step"]
    log(f"Resuming from step {step:,} ({path})")
    truncate_log(output, step)
    return _Position(step=step, lstm_state=lstm_state, progress=ckpt.progress)


def _log_unigram_baseline(
    output: Path, vocab: Vocabulary, text: TokenizedText, heldout: StreamBatcher, log: Log
) -> None:
    """Log the held-out perplexity of a unigram model of the training text, the
    baseline the biLM's evaluations compare with."""
    # On the same held-out tokens as the evaluations (max_eval_tokens may cut them).
    unigram = unigram_perplexity(unigram_log_probs(vocab, text), vocab, heldout.text)
    append_log(output, {"step": 0, "unigram_heldout_perplexity": unigram})
    log(f"Unigram model's held-out perplexity: {unigram:.1f}")


def _train(run: _Run, trained: nn.Module) -> None:
    """Train until the step limit or the time limit; log, evaluate and checkpoint
    as [training] says.

    trained (nn.Module): The model, or its DistributedDataParallel wrapper.
    """
    training, batcher, heldout, position = run.training, run.batcher, run.heldout, run.position
    limit = _step_limit(training, batcher.windows_per_epoch)
    meter = _Meter(position.progress["elapsed"], training["max_minutes"])
    run.model.train()
    while position.step < limit:
        epoch, index = divmod(position.step, batcher.windows_per_epoch)
        if index == 0:
            position.lstm_state = None  # each epoch's streams start afresh
        window = batcher.window(epoch, index)
        done = run_done(training, position.step, limit, meter.session_seconds())
        set_learn_rate(run.optimizer, learn_rate(training, position.step, done))
        result = train_step(trained, run.optimizer, window, position.lstm_state, training)
        position.lstm_state = result.state
        position.step += 1
        position.progress["tokens"] += batcher.tokens_per_window
        meter.add(global_mean(result.loss.detach(), run.world), batcher.tokens_per_window)
        step = position.step
        if step % training["log_every"] == 0 or step == limit:
            _log_progress(run, meter, epoch, index, limit)
        out_of_time = meter.out_of_time()
        last = step == limit or out_of_time
        if heldout is not None and run.rank == 0 and (step % training["eval_every"] == 0 or last):
            _log_evaluation(run, heldout)
        if step % training["checkpoint_every"] == 0 or last:
            _checkpoint(run, meter)
        if out_of_time:
            run.log(f"Stopping after [training] max_minutes = {training['max_minutes']}")
            break


def _log_progress(run: _Run, meter: _Meter, epoch: int, index: int, limit: int) -> None:
    """Log the mean loss since the last progress line, the rate and the ETA."""
    now = time.perf_counter()
    step, window_tokens = run.position.step, run.batcher.tokens_per_window
    rate = meter.tokens / (now - meter.since)
    loss = float(np.mean(meter.losses))
    record = {
        "step": step,
        "epoch": epoch,
        "loss": loss,
        "perplexity": math.exp(min(loss, 50.0)),
        "tokens": run.position.progress["tokens"],
        "tokens_per_second": rate,
        "elapsed": now - meter.started,
    }
    eta = (limit - step) * window_tokens / max(rate, 1e-9)
    if meter.max_minutes > 0:
        eta = min(eta, meter.max_minutes * 60 - (now - meter.session_start))
    run.log(
        f"step {step:,}/{limit:,}  epoch {epoch + 1} "
        f"({100 * index / run.batcher.windows_per_epoch:.0f}%)"
        f"  loss {loss:.3f}  ppl {record['perplexity']:.1f}  {rate:,.0f} tok/s"
        f"  ETA {_duration(eta)}"
    )
    if run.rank == 0:
        append_log(run.output, record)
    meter.restart(now)


def _log_evaluation(run: _Run, heldout: StreamBatcher) -> None:
    """Evaluate on the held-out text; log and record the perplexity."""
    step = run.position.step
    ppl = evaluate(run.model, heldout)
    append_log(run.output, {"step": step, "heldout": ppl})
    run.log(
        f"held-out perplexity at step {step:,}: forward {ppl['forward']:.1f}, "
        f"backward {ppl['backward']:.1f}, average {ppl['average']:.1f}"
    )


def _checkpoint(run: _Run, meter: _Meter) -> None:
    """Export the model and save a checkpoint (process 0), all processes in step."""
    position = run.position
    position.progress.update(
        step=position.step,
        elapsed=time.perf_counter() - meter.started,
        vocab_hash=run.vocab_hash,
    )
    if run.world > 1:
        check_in_sync(run.model, run.world, position.step, run.log)
    if run.rank == 0:
        export_model(run.output, run.model, run.vocab)
        save_checkpoint(
            run.output / CHECKPOINT_FILE,
            Checkpoint(
                run.model.state_dict(),
                run.optimizer.state_dict(),
                position.lstm_state,
                torch.get_rng_state(),
                position.progress,
            ),
        )
    barrier(run.world)


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


def _step_limit(training: Dict[str, Any], windows_per_epoch: int) -> int:
    limit = training["max_epochs"] * windows_per_epoch
    if training["max_steps"] > 0:
        limit = min(limit, training["max_steps"])
    return limit


def _hash(words: List[str]) -> str:
    return hashlib.sha256("\n".join(words).encode("utf8")).hexdigest()


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )
