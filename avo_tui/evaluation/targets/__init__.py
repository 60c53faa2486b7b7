"""What is computed: a target and the seam between it and the harness (standard library only,
but for torch_dtypes.py).

- problem.py: the seam: a Problem's parameters and configurations, its Numerics, the input
  and output sets a launch gets, the row sample of a checked launch.
- values.py: how an input's values are drawn (Normal, Uniform, Positive, Integers, Structured,
  FromFile).
- api.py: what a target file declares (Target, Input, Output, Int, Float, ...), checked.
- declared.py: a target file's declarations behind the seam.
- file.py: finding and loading a target file (get_target).
- spec.py: TargetSpec (configurations, tolerances, baselines, seeds) and the shipped names.
- words.py: a target's terms in words, for the agent.
- archs.py: GPU architectures, and which seed each is given.
- torch_dtypes.py: dtype names as torch's.
"""
