"""Scoring a loaded kernel: fresh inputs and poisoned outputs (tensors.py), correctness against
the float64 reference (judge.py; checks.py: every configuration, edge shape and drawn case),
timing beside the baselines or the best (measure.py), the throughput and its flags
(score.py), and the stages an evaluation goes through (stage.py); and a target's own checks
(target_check.py: `avo targets check`'s numerics, which the worker also runs on a user's target
file before anything is scored; finite_reference.py: which input makes a reference not
finite, and the values= rule to give it)."""
