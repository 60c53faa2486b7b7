"""The scoring function: targets, toolchains, the isolated worker, correctness and timing.

Imports only the standard library, numpy, torch and cuda-python, so it runs on a bare GPU
machine. (Built in later issues.)
"""
