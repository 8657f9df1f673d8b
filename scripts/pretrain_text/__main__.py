"""`python -m scripts.pretrain_text`: fetch, clean and split raw English text for biLM
pretraining (see the package's docstring)."""

from scripts.console import run_script
from scripts.pretrain_text.cli import main

run_script(main)
