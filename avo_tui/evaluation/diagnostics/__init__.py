"""Looking closer at a kernel, beside the score: profiles (profile.py, Nsight Compute),
sanitizers (sanitize.py, compute-sanitizer) and disassembly (sass.py)."""
