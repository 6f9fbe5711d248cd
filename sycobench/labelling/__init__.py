"""Labelling answers by hand: a seeded, blind sample of a job's answers (`sample`) and the
self-contained page people label them in (`page`); the command is `python -m sycobench.label`."""
