"""Running the biLM beyond one process, on a Ray cluster (the `ray` extra).

These modules import Ray, so nothing in the core package imports this folder: the CLI
imports it only when `embed --ray` is given, and users import it themselves.
"""
