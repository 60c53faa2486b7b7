"""The import itself: importer.py runs it in order, from the problem read (problem/) and its
seed written (seeds/) to the target file.

What the target file says: its configurations, timed, edge and drawn (configs.py; the timed
shape's launch measured: calibrate.py; the edge shapes that reach the problem's own lengths:
own_lengths.py), how each input is drawn (value_rules.py; integer_inputs.py; widened where the
problem's own draw leaves an operation idle: exercise.py; that draw kept as a case:
own_draw.py), the hostile input cases its operations call for (hostile.py, from the
operations recorded as the forward runs: recorded_ops.py), and its text (target_writer.py);
what an import is doing, and its time limit (progress.py)."""
