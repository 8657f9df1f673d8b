#!/bin/bash
# Main evidence run for issue 5 (resumable: rerun the same command).
cd /work/main && . .venv/bin/activate
exec python -m spacy_elmo pretrain /work/runs/pretrain-cpu --preset cpu \
  --train /work/data/pretrain/train.txt --heldout /work/data/pretrain/heldout.txt \
  --training.eval_every 500 --training.max_eval_tokens 50000 --training.checkpoint_every 200 \
  --training.log_every 50 --system.threads ${THREADS:-2} --training.max_minutes ${MINUTES:-0}
