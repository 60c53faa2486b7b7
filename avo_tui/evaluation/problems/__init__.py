"""The problems the built-in targets compute, each behind evaluation/targets/problem.py's protocols:
a light module the parent reads (names, work, draws) and its torch side for the worker."""
