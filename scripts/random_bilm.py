"""Write an untrained biLM with the same options as a pretrained one: the control that
tells what pretraining adds over the architecture itself.

    python -m scripts.random_bilm en-open-3m training/bilm_random --seed 0

Reads the options.json of SOURCE (any weights reference), builds the biLM with
PyTorch's default initialisation (the one `pretrain` starts from) under --seed, and
writes OUTPUT/options.json + weights.hdf5. A frozen random biLM still turns each
word's characters into features and mixes them over the sentence, so a task model
that does as well with it as with the pretrained one has gained nothing from
pretraining.
"""

import argparse
from pathlib import Path

from scripts.console import DataError, log, run_script


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="any weights reference (directory, shipped name, ...)")
    parser.add_argument("output", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    from spacy_elmo.bilm.model import ElmoBiLM
    from spacy_elmo.errors import ElmoFormatError
    from spacy_elmo.io.references import resolve_weights
    from spacy_elmo.io.weights import read_options, save_weights_files

    try:
        options_path = resolve_weights(args.source).options
    except ElmoFormatError as e:
        raise DataError(str(e)) from None
    if not options_path.exists():
        raise DataError(f"{options_path} not found: SOURCE must hold the biLM's options.json")

    torch.manual_seed(args.seed)
    model = ElmoBiLM(read_options(options_path), token_cache_size=0)
    for path in save_weights_files(model, args.output, overwrite=True):
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_script(main)
