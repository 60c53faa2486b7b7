"""What a candidate kernel declares, read without running it: its sources and knobs
(candidate.py), its ``avo:`` lines (contract.py: launch geometry, shared memory, knobs,
requirements), the safe expressions they are written in (expressions.py) and its TMA
descriptors (tensormaps.py)."""
