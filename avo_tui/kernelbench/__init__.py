"""Importing a KernelBench problem as a target file (``avo targets import``, docs/targets.md,
"Importing a KernelBench problem").

A KernelBench problem is a Python file: ``class Model(nn.Module)``, ``get_inputs()``,
``get_init_inputs()`` and its sizes as module-level globals. The import reads it on torch's
meta device (shapes without arithmetic), learns how every tensor follows the size globals,
chooses configurations, and writes an ordinary target file beside it, with a plain C (or
CUDA) seed: a fused one where its forward is elementwise, a reduction (an argmax among
them), a scan or norm, or a matrix product (graph.py, plan.py), else a loop nest per stage
of its aten operations (stage_plan.py: convolutions, pooling, norms, chains of them). Each
tensor the forward returns is an Output of its own, an integer one (argmax's int64 indices)
declared with its dtype and compared exactly; an integer or bool input (class labels, token
ids) is drawn from the range the problem's own draws show (integer_inputs.py), a float one by
the range, scale, sign and structure they show (value_rules.py), widened where they leave an
operation idle (exercise.py), the problem's own draw kept as an input case (own_draw.py), and
the hostile cases its operations call for written beside it (hostile.py). The work is
torch's FLOP count, fitted as a polynomial of the sizes (flop_fit.py, work.py); a long import
says what it does and stops at its limit (progress.py).

Imports only the standard library and torch: it runs where the evaluator runs.
"""

from .importer import Imported, import_problem
from .problem_module import ImportRefused
from .progress import Progress

__all__ = ["ImportRefused", "Imported", "Progress", "import_problem"]
