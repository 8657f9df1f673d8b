#!/usr/bin/env bash
# One variant of the project's ELMo models, trained and scored like the main ones:
#
#   bash scripts/ablation.sh TASK NAME [--section.key value ...]
#
# TASK is ner (configs/ner.cfg, 6,000 steps, seed 0) or textcat (configs/textcat.cfg,
# 2,000 steps, seeds 0,1,2); any spaCy config override follows, e.g.
#   bash scripts/ablation.sh ner mixdrop05 --components.ner.model.tok2vec.elmo.mix_dropout 0.5
#   bash scripts/ablation.sh textcat final --paths.elmo_weights training/bilm_final
# Environment: CFG (another config, e.g. configs/ner_baseline.cfg), SEEDS ("1"),
# THREADS (PyTorch threads, default 1). Trains into training/exp/TASK_NAME with
# scripts/train.py (finished seeds are skipped) and writes the test scores to
# metrics/exp/TASK_NAME.json with scripts/evaluate.py. Run from anywhere; it works in
# the repository root, on the corpus the project's corpus steps wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: bash scripts/ablation.sh ner|textcat NAME [--section.key value ...]" >&2
  exit 2
fi
task=$1 name=$2
shift 2
case "$task" in
  ner) seeds=0 steps=6000 every=400 data=corpus/conll cfg=configs/ner.cfg ;;
  textcat) seeds=0,1,2 steps=2000 every=100 data=corpus/polarity cfg=configs/textcat.cfg ;;
  *) echo "ablation.sh: TASK must be ner or textcat, not '$task'" >&2; exit 2 ;;
esac
cfg=${CFG:-$cfg} seeds=${SEEDS:-$seeds} threads=${THREADS:-1}
python -m scripts.train "$cfg" "training/exp/${task}_$name" --seeds "$seeds" --threads "$threads" \
  --paths.train "$data/train.spacy" --paths.dev "$data/dev.spacy" \
  --training.max_steps "$steps" --training.eval_frequency "$every" "$@"
python -m scripts.evaluate "$task" "training/exp/${task}_$name" "$data/test.spacy" \
  "metrics/exp/${task}_$name.json" --name "$name" --seeds "$seeds" --threads "$threads"
