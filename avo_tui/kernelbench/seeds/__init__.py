"""The plain seed of an imported problem, in C or CUDA: a small compiler from the problem's
forward (problem/) to a kernel that is correct on every shape first.

A fused seed where the traced graph has one of three patterns (plan.py: elementwise, line,
matmul), written by c_seed.py and cuda_seed.py from what they share (kernel_text.py; the
line pattern's body: line_body.py); else a seed of stages, one loop nest per stage: the aten
recording lowered call by call (stage_lowering.py, to the definitions of stage_ir.py: maps
and reductions; the calls by kind in stage_ops.py, stage_reduce.py, stage_norms.py,
stage_window.py and stage_layout.py), sorted into stages (stage_plan.py) and written out
(stage_seed.py)."""
