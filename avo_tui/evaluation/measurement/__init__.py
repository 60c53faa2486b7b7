"""Scoring a loaded kernel: fresh inputs and poisoned outputs (tensors.py), correctness against
the float64 reference (judge.py; checks.py: every configuration, edge shape and drawn case),
timing beside the baselines or the best (measure.py), the throughput and its flags
(score.py), and the stages an evaluation goes through (stage.py)."""
