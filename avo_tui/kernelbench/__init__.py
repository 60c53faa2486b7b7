"""Importing a KernelBench problem as a target file (``avo targets import``, docs/targets.md,
"Importing a KernelBench problem").

A KernelBench problem is a Python file: ``class Model(nn.Module)``, ``get_inputs()``,
``get_init_inputs()`` and its sizes as module-level globals. The import reads it on torch's
meta device (shapes without arithmetic), learns how every tensor follows the size globals,
chooses configurations, and writes an ordinary target file beside it, with a plain C (or
CUDA) seed: a fused one where its forward is elementwise, a reduction (an argmax among
them), a scan or norm, or a matrix product (problem/graph.py, seeds/plan.py), else a loop
nest per stage of its aten operations (seeds/stage_plan.py: convolutions, pooling, norms,
chains of them). Each tensor the forward returns is an Output of its own, an integer one
(argmax's int64 indices) declared with its dtype and compared exactly; an integer or bool
input (class labels, token ids) is drawn from the range the problem's own draws show
(target/integer_inputs.py), a float one by the range, scale, sign and structure they show
(target/value_rules.py), widened where they leave an operation idle (target/exercise.py),
the problem's own draw kept as an input case (target/own_draw.py), and the hostile cases its
operations call for written beside it (target/hostile.py). The work is torch's FLOP count,
fitted as a polynomial of the sizes (problem/flop_fit.py, problem/work.py); a long import
says what it does and stops at its limit (target/progress.py).

Three rooms, each importing only those below it (import-linter's kernelbench-rooms contract):

- ``target/``: the import run in order (importer.py) and the target file it writes;
- ``seeds/``: the small compiler that writes the plain seed;
- ``problem/``: the problem read: built at any sizes, its shapes, its forward traced, its work.

Imports only the standard library and torch: it runs where the evaluator runs.
"""

from .problem.problem_module import ImportRefused
from .target.importer import Imported, import_problem
from .target.progress import Progress

__all__ = ["ImportRefused", "Imported", "Progress", "import_problem"]
