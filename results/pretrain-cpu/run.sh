#!/bin/bash
# Main evidence run for issue 5 (resumable: rerun the same command). Run it from the project
# root, with the package installed, after `python -m spacy project run corpus-pretrain`.
exec python -m spacy_elmo pretrain training/pretrain-cpu --preset cpu \
  --train corpus/pretrain/train.txt --heldout corpus/pretrain/heldout.txt \
  --training.eval_every 500 --training.max_eval_tokens 50000 --training.checkpoint_every 200 \
  --training.log_every 50 --system.threads ${THREADS:-2} --training.max_minutes ${MINUTES:-0}
