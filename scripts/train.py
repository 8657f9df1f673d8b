"""Train a spaCy config once per seed with `spacy train`, timing each run.

    python -m scripts.train CONFIG OUTPUT --seeds 0,1,2 --threads 2 --gpu-id -1 \
        --paths.train corpus/conll/train.spacy --paths.dev corpus/conll/dev.spacy \
        --training.max_steps 3000 [any other spaCy config override]

Each seed is an ordinary `spacy train CONFIG --output OUTPUT/seed<N> --system.seed N
...` (run in this process, so the imports are paid once). `OUTPUT/seed<N>/model-best` is
the model selected on the dev set; `OUTPUT/seed<N>/train.json` records the config, the
overrides, the wall time, the CPU threads and the best dev scores. A seed whose
train.json exists with the same config, overrides and input files (size and
modification time) is skipped, so an interrupted run continues with the next seed (a
seed cut off in the middle is trained again from its start: `spacy train` does not
resume), and a changed biLM under the same path is trained with again.
"""

import argparse
import sys
from pathlib import Path

from scripts.device import use_device
from scripts.training import parse_overrides, train_seeds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Other --section.key value options are spaCy config overrides.",
    )
    parser.add_argument("config", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, one run each")
    parser.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads (0: default)")
    parser.add_argument("--gpu-id", type=int, default=-1)
    args, rest = parser.parse_known_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    use_device(args.threads)
    train_seeds(args.config, args.output, seeds, parse_overrides(rest), args.threads, args.gpu_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
