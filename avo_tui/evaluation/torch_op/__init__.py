"""The runtime of an exported operator (``avo export --torch``): the files the export copies,
unchanged, into a package of its own, beside the kernel's sources and ``spec.json``.

Nothing here imports avo_tui: in the package, ``_expressions`` is a copy of the evaluator's
expressions.py (here a name for it), so the launch geometry a kernel declares is read by the
same code the harness reads it with. _op registers the operator, _host builds and calls a C
kernel, _device a CUDA one, _baselines holds the calls an unsupported input falls back to.
"""

RUNTIME_MODULES = ("_op", "_host", "_device", "_baselines", "_checks")
