"""Command-line interface: `python -m spacy_elmo COMMAND`."""

import contextlib
import importlib
import os
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Tuple,
    Union,
)

import torch
import typer
from typer.core import TyperGroup

from . import __version__
from .bilm.manylangs import ManyLangsBiLM
from .errors import DownloadError
from .io.embedder import ElmoEmbedder
from .io.text import is_bilm_token

if TYPE_CHECKING:
    from .io.embed_file import SentenceEmbedder

# The exceptions of the click that typer runs on: its own copy (typer._click) in recent
# versions, click itself in older ones.
_click_errors: Any = importlib.import_module(typer.BadParameter.__module__)


class _OneLineErrors(TyperGroup):
    """Every error as one `Error:` line on stderr and exit code 1: click's usage
    errors (an unknown option, a missing argument, a value out of range) as well as
    ours, instead of click's usage box and exit code 2."""

    def make_context(
        self, info_name: Optional[str], args: List[str], parent: Any = None, **extra: Any
    ) -> Any:
        with _usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _usage_errors():
            return super().invoke(ctx)


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """Report a click usage error as one line naming the command's --help."""
    try:
        yield
    except _click_errors.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":
            raise  # no command given: click shows the help
        path = e.ctx.command_path if e.ctx is not None else "python -m spacy_elmo"
        typer.echo(f"Error: {_one_line(e)} (see `{path} --help`)", err=True)
        raise typer.Exit(1) from None


app = typer.Typer(
    cls=_OneLineErrors,
    help="ELMo for spaCy: exact, fast biLM tools.",
    no_args_is_help=True,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"spacy-elmo {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit",
    ),
) -> None:
    """ELMo for spaCy: exact, fast biLM tools."""


@app.command()
def demo(
    weights: Optional[str] = typer.Option(
        None, "--weights", "-w", help="Weights reference; default: the shipped biLM"
    ),
    layer: str = typer.Option(
        "1", "--layer", help="A layer index (default: 1, the first LSTM layer), top or average"
    ),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads"),
) -> None:
    """Show ELMo telling word senses apart: bank, bass, bat and plant, four sentences
    per sense; per word, the mean cosine of its vectors within and across senses."""
    from .demo import SENSES, sense_scores
    from .io.references import DEFAULT_WEIGHTS

    with _user_errors():
        embedder = ElmoEmbedder(weights or DEFAULT_WEIGHTS, n_threads=threads)
        scores = sense_scores(embedder, layer=int(layer) if layer.lstrip("-").isdigit() else layer)
    n_params = sum(p.numel() for p in embedder.bilm.parameters())
    typer.echo(
        f"biLM {weights or DEFAULT_WEIGHTS}: {embedder.bilm.n_output_layers} layers of "
        f"{embedder.output_dim} dims, {n_params:,} parameters; layer: {layer}"
    )
    typer.echo(f"{'word':8} {'senses':22} {'within':>7} {'across':>7}")
    for score in scores:
        senses = " / ".join(SENSES[score.word])
        mark = "ok" if score.separates else "NOT SEPARATED"
        typer.echo(f"{score.word:8} {senses:22} {score.within:7.3f} {score.across:7.3f}  {mark}")
    n_ok = sum(score.separates for score in scores)
    typer.echo(
        f"Within-sense similarity beats across-sense for {n_ok} of {len(scores)} words "
        "(a context-free embedding would tie: layer 0 gives 1.000 both ways)."
    )


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Report bad input (files, options, weights) and file-system failures (no
    permission, a read-only or full disk) as one line and exit code 1."""
    try:
        yield
    except (ValueError, OSError, DownloadError) as e:
        typer.echo(f"Error: {_one_line(e)}", err=True)
        raise typer.Exit(1) from None


def _one_line(error: Exception) -> str:
    """An error's message on one line; an OSError's with the file it concerns."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.strerror}: {error.filename}"
    if isinstance(error, _click_errors.ClickException):
        return " ".join(error.format_message().split())
    return " ".join(str(error).split())


def _prepare_output_file(output: Path, force: bool, inputs: Iterable[Optional[Path]] = ()) -> None:
    """Before any work is done, refuse an output that is not a regular file (a
    directory, a named pipe, a device: never replaced, even with --force), that is
    one of the command's inputs, that exists (unless --force) or that has no directory
    to go in; remove the temporary a stopped run left for it.

    output (Path): The file the command writes.
    force (bool): Whether --force was given.
    inputs (Iterable[Optional[Path]]): The files the command reads (None: not given).
    """
    from .io.atomic import check_replaceable, remove_stale_temporaries

    with _user_errors():
        check_replaceable(output)
        _refuse_inputs(output, inputs)
        if output.exists() and not force:
            raise ValueError(f"{output} exists; pass --force to overwrite it")
        if not output.parent.is_dir():
            raise ValueError(f"{output.parent} is not an existing directory: create it first")
        for stale in remove_stale_temporaries(output.parent, {output.name}):
            typer.echo(f"Removed {stale}, left by an earlier run that was stopped")


def _refuse_inputs(output: Path, inputs: Iterable[Optional[Path]]) -> None:
    """Refuse an output that is one of the inputs or a folder holding one, under any
    name (another spelling, a symlink, a hard link).

    output (Path): A file or folder the command writes.
    inputs (Iterable[Optional[Path]]): The files the command reads (None: not given).
    """
    if not output.exists():
        return
    for path in inputs:
        if path is None or not path.exists():
            continue
        resolved = path.resolve()
        if any(os.path.samefile(output, p) for p in (resolved, *resolved.parents)):
            what = "is" if os.path.samefile(output, resolved) else "holds"
            raise ValueError(f"{output} {what} the input {path}: write the output elsewhere")


def _parse_shard(shard: Optional[str]) -> Tuple[int, int]:
    """--shard K/N as (K, N); (0, 1) when not given."""
    if shard is None:
        return 0, 1
    try:
        k, n = (int(part) for part in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like K/N, got {shard!r}") from None
    if not 0 <= k < n:
        raise ValueError(f"--shard K/N needs 0 <= K < N, got {shard!r}")
    return k, n


@app.command()
def embed(
    input_path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Text, one sentence a line"
    ),
    output: Path = typer.Argument(..., help="hdf5 file to write"),
    weights: str = typer.Option(
        "en-open-3m", "--weights", "-w", help="Any weights reference; default: the shipped biLM"
    ),
    mode: str = typer.Option("all", "--mode", help="all | top | average | mix"),
    mix: Optional[str] = typer.Option(None, "--mix", help="Weights for --mode mix: a,b,c"),
    layout: str = typer.Option("per-line", "--layout", help="per-line (AllenNLP) | concat"),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Sentences per forward pass"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, or a CUDA index such as 0"),
    use_spacy: Optional[str] = typer.Option(
        None, "--use-spacy", help="Tokenize raw text with this spaCy pipeline (or blank:LANG)"
    ),
    shard: Optional[str] = typer.Option(None, "--shard", help="K/N: embed lines i with i % N == K"),
    replace_errors: bool = typer.Option(False, "--replace-errors", help="Replace bad UTF-8"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output"),
    threads: Optional[int] = typer.Option(
        None, "--threads", min=1, help="CPU threads (per worker with --ray, default 1 there)"
    ),
    vocab: Optional[Path] = typer.Option(
        None, "--vocab", exists=True, help="Words (one a line) whose token layer is precomputed"
    ),
    ray_address: Optional[str] = typer.Option(
        None, "--ray", help="Embed on a Ray cluster: local (start one here) or HOST:PORT"
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, help="Ray workers; default: the cluster's CPUs / --threads"
    ),
) -> None:
    """Embed a file of sentences (whitespace-tokenized unless --use-spacy) into hdf5.

    The per-line layout is AllenNLP's: a dataset per line, keyed by the line index,
    of shape (n_layers + 1, n_tokens, dim) for --mode all and (n_tokens, dim)
    otherwise, plus `sentence_to_index`. --layout concat writes `vectors` (every
    token of every line, concatenated), `offsets` and `line_index` instead, for
    corpora of any size. The input is read once, so it may be a pipe. The output is
    written under a temporary name and renamed when complete; it records what made
    it. Shards written with --shard are joined by `merge`. With --ray (the
    spacy-elmo[ray] extra) the biLM runs in --workers processes of a Ray cluster and
    the file is the same as without it.
    """
    import hashlib

    from tqdm import tqdm

    from .io.embed_file import SentenceEmbedder, embed_record, embed_to_hdf5, make_reducer
    from .io.formats import checksum
    from .io.references import resolve_weights
    from .io.text import read_lines

    with _user_errors():
        k, n = _parse_shard(shard)
        files = resolve_weights(weights)
        _prepare_output_file(output, force, inputs=[input_path, vocab, *files.paths.values()])
        mix_weights = _mix_weights(mix)
        reducer = make_reducer(mode, mix_weights)
        tokenize, tokenizer = _tokenizer(use_spacy)
        vocabulary = [word for _, word in read_lines(vocab)] if vocab else None
        if ray_address is None:
            if workers is not None:
                raise ValueError("--workers sets the number of Ray workers: it needs --ray")
            embedder: SentenceEmbedder = ElmoEmbedder(
                weights,
                device=_device(device),
                batch_size=batch_size,
                n_threads=threads,
                vocabulary=vocabulary,
            )
        else:
            embedder = _ray_embedder(
                ray_address, weights, device, batch_size, workers, threads, vocabulary
            )
        weights_sha256 = checksum(files)
    # The input's checksum is taken as its lines are read: a pipe is read only once.
    input_sha256 = hashlib.sha256()
    lines = read_lines(input_path, replace_errors=replace_errors, digest=input_sha256)
    items = ((i, text, tokenize(text)) for i, text in lines if i % n == k)

    def record() -> Dict[str, str]:
        return embed_record(
            input_path=input_path,
            input_sha256=input_sha256.hexdigest(),
            weights_sha256=weights_sha256,
            tokenizer=tokenizer,
            mode=f"mix:{','.join(map(str, mix_weights or []))}" if mode == "mix" else mode,
            shard=(k, n),
        )

    total = _count_lines(input_path, k, n)
    with _user_errors(), tqdm(total=total, unit=" sentences", desc="embed") as bar:
        count = embed_to_hdf5(
            embedder,
            items,
            output,
            reducer=reducer,
            layout=layout,
            record=record,
            on_sentence=bar.update,
        )
    typer.echo(f"Wrote {count} lines to {output}")


def _ray_embedder(
    address: str,
    weights: str,
    device: str,
    batch_size: int,
    workers: Optional[int],
    threads: Optional[int],
    vocabulary: Optional[List[str]],
) -> "SentenceEmbedder":
    """embed --ray's embedder: workers on the Ray cluster at `address` (Ray is
    imported here only, so the package runs without it)."""
    try:
        from .scale.ray_embed import RayEmbedder, connect
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] != "ray":
            raise
        raise ValueError(
            "--ray needs Ray: install spacy-elmo[ray] (pip install 'spacy-elmo[ray]')"
        ) from None
    if device != "cpu":
        raise ValueError("--ray runs the biLM on CPU workers: leave out --device")
    connect(address)
    return RayEmbedder(
        weights, workers=workers, threads=threads or 1, batch_size=batch_size, vocabulary=vocabulary
    )


def _count_lines(path: Path, k: int, n: int) -> Optional[int]:
    """How many lines embed --shard K/N will embed, for the progress bar's ETA; None
    for a pipe, which can be read only once."""
    if not path.is_file():
        return None
    newlines, last = 0, b"\n"
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    return len(range(k, newlines + (last != b"\n"), n))


def _mix_weights(mix: Optional[str]) -> Optional[List[float]]:
    """--mix's numbers."""
    if mix is None:
        return None
    try:
        return [float(w) for w in mix.split(",")]
    except ValueError:
        raise ValueError(f"--mix takes numbers such as 0.2,0.3,0.5, got {mix!r}") from None


def _device(device: str) -> Union[str, int]:
    """--device as ElmoEmbedder takes it, after checking that PyTorch has that device."""
    if device == "cpu":
        return device
    if device.isdigit():
        index = int(device)
    elif device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        index = int(device[5:] or 0)
    else:
        raise ValueError(f"--device takes cpu, cuda or a CUDA index such as 0, got {device!r}")
    if not torch.cuda.is_available():
        raise ValueError(
            f"--device {device}: this PyTorch ({torch.__version__}) sees no CUDA device; "
            "use --device cpu"
        )
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"--device {device}: PyTorch sees {torch.cuda.device_count()} CUDA devices "
            f"(0 to {torch.cuda.device_count() - 1})"
        )
    return index


def _tokenizer(use_spacy: Optional[str]) -> Tuple[Callable[[str], List[str]], str]:
    """How embed cuts a line into tokens, and that tokenizer in words for the output's
    record (the pipeline's and spaCy's versions, which can change tokens)."""
    if use_spacy is None:
        return str.split, "whitespace"
    import spacy

    try:
        if use_spacy.startswith("blank:"):
            nlp = spacy.blank(use_spacy.split(":", 1)[1])
        else:
            nlp = spacy.load(use_spacy)
    except ImportError:
        raise ValueError(
            f"--use-spacy {use_spacy}: spaCy has no such language; use blank:LANG with a "
            "code such as en"
        ) from None
    except OSError:
        raise ValueError(
            f"--use-spacy {use_spacy}: no such spaCy pipeline is installed or saved there; "
            f"install it (python -m spacy download {use_spacy}) or use blank:LANG"
        ) from None
    meta = nlp.meta
    name = f"{meta['lang']}_{meta['name']} {meta['version']}, spaCy {spacy.__version__}"
    return (lambda text: [t.text for t in nlp.make_doc(text) if is_bilm_token(t)]), (
        f"spacy:{use_spacy} ({name})"
    )


@app.command()
def merge(
    output: Path = typer.Argument(..., help="hdf5 file to write"),
    shards: List[Path] = typer.Argument(..., exists=True, help="Shard files from embed --shard"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output"),
) -> None:
    """Join the shards of an `embed --shard K/N` run into one file: each shard of one
    input exactly once."""
    from .io.embed_file import merge_shards

    _prepare_output_file(output, force, inputs=shards)
    with _user_errors():
        count = merge_shards(shards, output)
    typer.echo(f"Wrote {count} lines to {output}")


@app.command()
def info(
    weights: str = typer.Argument(
        "en-open-3m", help="Any weights reference; default: the shipped biLM"
    ),
    json_path: Optional[Path] = typer.Option(
        None, "--json", help="Also write these facts as JSON (e.g. for project deps)"
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --json file"),
) -> None:
    """Print a biLM's options, sizes, parameter count and weights checksum."""
    import json

    from .io.atomic import atomic_path
    from .io.formats import checksum, present_files, read_bilm
    from .io.references import resolve_weights

    with _user_errors():
        files = resolve_weights(weights)
        bilm = read_bilm(files)
        digest = checksum(files)
    options_path, weights_path = files.options, files.weights
    o = bilm.options
    n_params = sum(p.numel() for p in bilm.parameters())
    typer.echo(f"options:    {options_path}")
    typer.echo(f"weights:    {weights_path}")
    typer.echo(f"sha256:     {digest} (of {', '.join(present_files(files))})")
    typer.echo(f"parameters: {n_params:,}")
    if isinstance(bilm, ManyLangsBiLM):
        typer.echo(f"tokens:     {bilm.describe()}")
    typer.echo(
        f"char CNN:   {o.char_dim}-dim chars, filters {[list(f) for f in o.filters]} "
        f"({o.n_filters} total, {o.activation}), {o.n_highway} highway"
    )
    typer.echo(
        f"LSTM:       {o.n_layers} layers x 2 directions, cell {o.dim}, projection "
        f"{o.projection_dim}, clips {o.cell_clip}/{o.proj_clip}, skip {o.use_skip_connections}"
    )
    typer.echo(f"output:     {bilm.n_output_layers} layers of {bilm.output_dim}")
    label = "architecture" if isinstance(bilm, ManyLangsBiLM) else "options.json"
    typer.echo(f"{label}: " + json.dumps(o.raw, sort_keys=True))
    if json_path is not None:
        facts = {
            "reference": weights,
            "options": str(options_path),
            "weights": str(weights_path),
            "sha256": digest,
            "kind": files.kind,
            "files": {role: str(files.paths[role]) for role in present_files(files)},
            "parameters": n_params,
            "output_layers": bilm.n_output_layers,
            "output_dim": bilm.output_dim,
            "options_json": o.raw,
        }
        _prepare_output_file(json_path, force, inputs=files.paths.values())
        with _user_errors(), atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n", encoding="utf8")
        typer.echo(f"Wrote {json_path}")


@app.command()
def convert(
    source: str = typer.Argument(..., help="Any weights reference"),
    output: Path = typer.Argument(..., help="Directory to write"),
    to: str = typer.Option("files", "--to", help="files (options.json + weights.hdf5) | pipeline"),
    lang: str = typer.Option("en", "--lang", help="Language of a new pipeline"),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files"),
) -> None:
    """Convert between a saved pipeline's `elmo` component and options.json + weights.hdf5.

    --to files writes the biLM of any weights reference (e.g. a saved pipeline) in its
    own files: options.json + weights.hdf5, or an ELMoForManyLangs model directory;
    --to pipeline writes a blank spaCy pipeline with an `elmo` component holding the
    weights.
    """
    from .io.atomic import atomic_folder
    from .io.formats import write_bilm
    from .io.references import load_bilm, resolve_weights

    with _user_errors():
        if to not in ("files", "pipeline"):
            raise ValueError(f"--to must be files or pipeline, got {to!r}")
        inputs = list(resolve_weights(source).paths.values())
        _prepare_output_folder(output, force, replace_whole=to == "pipeline", inputs=inputs)
    with _user_errors():
        bilm = load_bilm(source)
    if to == "files":
        with _user_errors():
            write_bilm(bilm, output, overwrite=force)
    else:
        import spacy

        from .pipeline.component import ElmoComponent

        with _user_errors():
            try:
                nlp = spacy.blank(lang)
            except ImportError:
                raise ValueError(f"--lang {lang}: spaCy has no such language") from None
            component = nlp.add_pipe("elmo")
            assert isinstance(component, ElmoComponent)
            component.load_weights(bilm)
            with atomic_folder(output) as tmp:
                nlp.to_disk(tmp)
    typer.echo(f"Wrote {output}")


def _prepare_output_folder(
    output: Path, force: bool, *, replace_whole: bool, inputs: Iterable[Path]
) -> None:
    """Before any work is done, refuse an output folder that is a file, that holds one
    of the inputs, or that holds what would be overwritten (unless --force). A folder
    replaced whole must be a spaCy pipeline or hold only a biLM's files, even with
    --force; otherwise a biLM's files are written beside what the folder holds.

    output (Path): The folder the command writes.
    force (bool): Whether --force was given.
    replace_whole (bool): Whether the folder is replaced whole (a pipeline).
    inputs (Iterable[Path]): The files the command reads.
    """
    from .io.atomic import check_replaceable, remove_stale_temporaries
    from .io.formats import files_in_folder

    if output.exists() and not output.is_dir():
        raise ValueError(f"{output} is not a folder: name a folder to write")
    model = files_in_folder(output) if output.is_dir() else None
    model_paths = list(model.paths.values()) if model is not None else []
    if replace_whole:
        if not output.parent.is_dir():
            raise ValueError(f"{output.parent} is not an existing directory: create it first")
        _refuse_inputs(output, inputs)
        entries = sorted(p.name for p in output.iterdir()) if output.exists() else []
        if entries and not force:
            raise ValueError(f"{output} is not empty; pass --force to replace what it holds")
        is_pipeline = {"config.cfg", "meta.json"} <= set(entries)
        foreign = [name for name in entries if name not in {p.name for p in model_paths}]
        if foreign and not is_pipeline:
            raise ValueError(
                f"{output} holds {foreign[0]}, so it is neither a spaCy pipeline nor a "
                "biLM's folder: --force replaces only those; write to an empty or new folder"
            )
        remove_stale_temporaries(output.parent, {output.name})
        return
    for path in inputs:
        if output.exists() and path.exists() and os.path.samefile(path.resolve().parent, output):
            raise ValueError(f"{output} holds the input {path}: write the output elsewhere")
    for path in model_paths:
        check_replaceable(path)
        if path.exists() and not force:
            raise ValueError(f"{path} exists; pass --force to overwrite it")


@app.command()
def download(
    name: str = typer.Argument(
        ..., help="small, medium, original, original-5.5B or manylangs-LANG (e.g. manylangs-zh)"
    ),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Default: $SPACY_ELMO_CACHE"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Another mirror"),
    force: bool = typer.Option(False, "--force", help="Download again"),
) -> None:
    """Download a published model into the cache, where every weights setting can
    then name it: AllenNLP's English models, or ELMoForManyLangs's 44 languages as
    manylangs-LANG (ISO 639-1 code). Resumes partial downloads; checks that the model
    loads before its files are moved into place."""
    from .io.download import download_model

    with _user_errors():
        directory = download_model(name, cache=cache, base_url=base_url, force=force)
    typer.echo(f"{name} is in {directory}")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def pretrain(
    ctx: typer.Context,
    output: Path = typer.Argument(..., help="Output directory (an existing run resumes)"),
    config_path: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Config file (see pretrain-config)"
    ),
    preset: str = typer.Option(
        "cpu", "--preset", help="Defaults: cpu, tiny, small, medium, original"
    ),
    train: Optional[Path] = typer.Option(None, "--train", help="Text file or directory of .txt"),
    heldout: Optional[Path] = typer.Option(None, "--heldout", help="Held-out text"),
) -> None:
    """Pretrain (or adapt, with --paths.init_weights) a biLM on raw text.

    Settings come from the preset, then the config file, then overrides such as
    `--training.max_steps 1000`. Rerun the same command to resume after a stop.
    """
    from spacy.cli._util import parse_config_overrides

    from .pretrain.config import default_config, load_config
    from .pretrain.trainer import pretrain as run_pretraining

    with _user_errors():
        _check_overrides(ctx.args, default_config(preset))
    overrides = parse_config_overrides(ctx.args)
    if train is not None:
        overrides["paths.train"] = str(train)
    if heldout is not None:
        overrides["paths.heldout"] = str(heldout)
    with _user_errors():
        config = load_config(config_path, preset, overrides)
        run_pretraining(output, config, log=lambda line: typer.echo(line))


def _check_overrides(args: List[str], config: Any) -> None:
    """Refuse what `pretrain` takes neither as its own option nor as a config override
    (`--section.key VALUE`), naming the override an unknown option may have meant
    (`--threads` -> `--system.threads`)."""
    expects_value = False
    for arg in args:
        name = arg[2:].split("=", 1)[0] if arg.startswith("--") else None
        if name is None:
            if not expects_value:
                raise ValueError(f"pretrain takes one OUTPUT folder; unexpected argument {arg!r}")
            expects_value = False
        elif "." in name:
            expects_value = "=" not in arg
        else:
            key = name.replace("-", "_")
            meant = [f"--{section}.{key}" for section in config if key in config[section]]
            hint = f"; did you mean {' or '.join(meant)}?" if meant else ""
            raise ValueError(
                f"pretrain has no option --{name}: settings are config overrides "
                f"such as --training.max_steps 1000 (see `pretrain-config`){hint}"
            )


@app.command("pretrain-config")
def pretrain_config(
    output: Path = typer.Argument(..., help="Where to write the config ('-' for stdout)"),
    preset: str = typer.Option("cpu", "--preset", help="cpu, tiny, small, medium, original"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file"),
) -> None:
    """Write a preset's complete pretraining config, to edit and pass to `pretrain`."""
    from .io.atomic import atomic_path
    from .pretrain.config import default_config

    with _user_errors():
        text = default_config(preset).to_str()
        if str(output) == "-":
            typer.echo(text)
            return
        _prepare_output_file(output, force)
        with atomic_path(output) as tmp:
            tmp.write_text(text, encoding="utf8")
        typer.echo(f"Wrote the {preset!r} pretraining config to {output}")


@app.command()
def perplexity(
    model: str = typer.Argument(
        ..., help="A directory written by `pretrain`, or a shipped model's name"
    ),
    text: Path = typer.Argument(..., help="Held-out text file or directory of .txt"),
    spacy_model: str = typer.Option("blank:en", "--spacy-model", help="Tokeniser pipeline"),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    unroll_steps: int = typer.Option(20, "--unroll-steps", min=1),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads"),
) -> None:
    """Held-out perplexity of a pretrained biLM (full softmax): forward, backward,
    average, and a unigram model of the same vocabulary for scale when the model
    directory still holds its training corpus."""
    from .io.references import resolve_weights
    from .pretrain.batches import StreamBatcher
    from .pretrain.corpus import (
        TOKENS_FILE,
        TokenizedText,
        sentence_pipeline,
        text_files,
        tokenize_files,
    )
    from .pretrain.model_files import load_language_model
    from .pretrain.output_dir import CORPUS_DIR
    from .pretrain.trainer import evaluate
    from .pretrain.vocab import unigram_log_probs, unigram_perplexity

    if threads:
        torch.set_num_threads(threads)
    with _user_errors():
        model_dir = resolve_weights(model).folder
        lm, vocab = load_language_model(model_dir)
        tokens = tokenize_files(text_files(str(text)), sentence_pipeline(spacy_model))
        batcher = StreamBatcher(
            tokens,
            vocab,
            batch_size=min(batch_size, max(1, tokens.n_tokens // unroll_steps)),
            unroll_steps=unroll_steps,
            max_chars=lm.bilm.options.max_characters_per_token,
        )
        ppl = evaluate(lm, batcher)
    typer.echo(f"tokens evaluated: {int(ppl['tokens']):,} per direction")
    typer.echo(f"forward perplexity:  {ppl['forward']:.2f}")
    typer.echo(f"backward perplexity: {ppl['backward']:.2f}")
    typer.echo(f"average perplexity:  {ppl['average']:.2f}")
    train_corpus = model_dir / CORPUS_DIR / "train"
    if (train_corpus / TOKENS_FILE).exists():
        train = TokenizedText.from_disk(train_corpus)
        unigram = unigram_perplexity(unigram_log_probs(vocab, train), vocab, tokens)
        typer.echo(f"unigram perplexity:  {unigram:.2f} (same vocabulary, training counts)")


if __name__ == "__main__":
    app()
