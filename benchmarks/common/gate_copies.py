"""The commit gate's benchmarks' kernels: the seed with units of extra work, so that two copies
differ by a gain as small as one unit, and a copy made a kernel of its own for each trial
(gate_power.py, record_roughness.py)."""

from __future__ import annotations

from dataclasses import dataclass

# Units of extra work for the calibration copy: about 2% on the mha grid of the H200 (a unit is
# one FMA per 8 key blocks, about 4 of a CTA's 30,000 cycles), about 5% on cpu-attention.
CALIBRATION_UNITS = {"cuda": 128, "c": 3000}
MARKER = {
    "c": "int avo_gate_power_trial_{n} = {n};\n",
    "cuda": "__device__ int avo_gate_power_trial_{n} = {n};\n",
}


@dataclass(frozen=True)
class Copies:
    """The seed with ``base`` units of extra work in every copy, so that what the chain costs
    by being there at all (its loop and the register it keeps) is in both kernels of a pair and
    only its length differs: a level's gain is then as small as one unit."""

    seed: dict[str, str]
    base: int = 0

    def with_extra(self, units: int) -> dict[str, str]:
        """The copy doing ``units`` FMAs more per key block (the seeds' AVO_EXTRA_WORK)."""
        total = self.base + units
        if total <= 0:
            return dict(self.seed)
        main_file = next(iter(self.seed))
        return {**self.seed, main_file: f"#define AVO_EXTRA_WORK {total}\n" + self.seed[main_file]}


def marked(files: dict[str, str], toolchain: str, n: int) -> dict[str, str]:
    """The same work under another kernel identity: an unused global named for trial ``n``."""
    main_file = next(iter(files))
    return {**files, main_file: files[main_file] + "\n" + MARKER[toolchain].format(n=n)}
