"""The timed shape's launch time measured, not guessed: the importer's seed timed at the timed
sizes once its target file is written, and the sizes chosen again at the rate measured.

The rates configs.py estimates a launch at are fixed, and this project's 2-core machine ran
the same seeds several times apart over one day (RESULTS.md, issue 68's eleventh session):
only half the stated launches were near `avo eval`'s. So the seed is compiled and timed by
the evaluator's own machinery (``measure``, which the command passes in: kernelbench/ stays
below evaluation/), and where the reading is off the estimate by more than OFF_BY, the
configurations are chosen again at the measured rate and timed again, up to CORRECTIONS
times. The import then states the last reading, at the sizes it was taken at. A seed that
cannot be timed (no compiler, a crash) leaves the estimate standing, and the note says why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..problem.problem_module import Sizes
from .configs import Chooser, Configs, Launch

# The seconds of a launch of the seed at the timed shape of the target file at the path, or
# why it could not be timed (a failure is a value: the import goes on with its estimate).
Measure = Callable[[Path], float | str]
OFF_BY = 1.5  # a reading within this factor of the estimate keeps the sizes it was taken at
CORRECTIONS = 2  # the sizes are chosen again at most this many times


def calibrated(chooser: Chooser, write: Callable[[Configs], Path], measure: Measure,
               tell: Callable[[str], None]) -> Configs:
    """The configurations whose timed launch was measured: ``write`` writes the target file
    of each configurations timed (and returns its path), ``measure`` times its seed there and
    ``tell`` says what is under way. The returned ones state the last reading, or the
    estimate and why the seed was not timed; the caller writes them."""
    rate, corrections = 1.0, 0
    configs = chooser.configs(rate)
    while True:
        target = write(configs)
        tell(f"timing the seed at {_named(configs.timed)}")
        reading = measure(target)
        if isinstance(reading, str):
            return chooser.configs(rate, configs.timed, Launch(
                unmeasured=f"the seed could not be timed at import: {reading}"))
        off = reading / (rate * chooser.seconds(configs.timed))
        rate *= off
        if corrections < CORRECTIONS and not 1 / OFF_BY <= off <= OFF_BY:
            again = chooser.configs(rate)
            if again.timed != configs.timed:
                configs, corrections = again, corrections + 1
                continue
        return chooser.configs(rate, configs.timed, Launch(reading))


def _named(sizes: Sizes) -> str:
    return ", ".join(f"{dim} {value}" for dim, value in sizes.items()) or "its one shape"
