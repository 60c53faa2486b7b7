"""Looking closer at a kernel or a target, beside the score: profiles (profile.py, Nsight
Compute), sanitizers (sanitize.py, compute-sanitizer), disassembly (sass.py), and `avo
targets check`'s numerics (target_check.py: the reference, the honest computation and every
baseline agree within the tolerance, before a run)."""
