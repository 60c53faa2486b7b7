"""NVIDIA GPU architectures as the evaluator spells them (``sm_80``, ``sm_90a``, ``sm_100a``):
from a compute capability, back to one, and what the seeds are chosen and checked by.

The ``a`` suffix marks the architecture-specific targets (9.x, 10.x, 12.x), which wgmma,
setmaxnreg and tcgen05 need; a cubin for one runs on that architecture alone. Standard
library only: the CLI chooses a seed without importing torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MIN_CAPABILITY = (8, 0)  # bf16 mma.sync and cp.async: every shipped GPU seed needs them
SUFFIXED_MAJORS = (9, 10, 12)
# Every architecture a shipped seed must compile for, in CI (no GPU needed: NVRTC)
COMPILE_CHECKED = ("sm_80", "sm_86", "sm_89", "sm_90a", "sm_100a", "sm_120a")
FAMILIES = {
    (8, 0): "Ampere (A100)", (8, 6): "Ampere (RTX 30xx, A40)", (8, 7): "Ampere (Orin)",
    (8, 9): "Ada (RTX 40xx, L4, L40)", (9, 0): "Hopper (H100, H200)",
    (10, 0): "Blackwell (B200, GB200)", (10, 3): "Blackwell (B300, GB300)",
    (11, 0): "Blackwell (Thor)", (12, 0): "Blackwell (RTX 50xx, RTX PRO)",
    (12, 1): "Blackwell (DGX Spark)",
}
ARCH = re.compile(r"sm_(?P<major>\d{1,2})(?P<minor>\d)(?P<suffix>a?)")


class UnknownArch(ValueError):
    """A string that is not an architecture in the evaluator's spelling."""


def arch_of(capability: tuple[int, int]) -> str:
    major, minor = capability
    return f"sm_{major}{minor}" + ("a" if major in SUFFIXED_MAJORS else "")


def capability_of(arch: str) -> tuple[int, int]:
    match = ARCH.fullmatch(arch.strip())
    if match is None:
        raise UnknownArch(f"{arch!r} is not a GPU architecture such as sm_80, sm_90a or sm_100a")
    capability = int(match["major"]), int(match["minor"])
    if arch_of(capability) != arch.strip():
        raise UnknownArch(f"{arch!r} is spelled {arch_of(capability)} here")
    return capability


def family(arch: str) -> str:
    capability = capability_of(arch)
    if capability < MIN_CAPABILITY:
        return "older than Ampere"
    return FAMILIES.get(capability, "not one avo-tui knows")


def host_arch(host: Mapping[str, object]) -> str | None:
    """The architecture of the GPU that an evaluation worker's host facts (``capability``,
    "9.0") describe; None for a CPU's."""
    major, _, minor = str(host.get("capability") or "").partition(".")
    return arch_of((int(major), int(minor))) if major.isdigit() and minor.isdigit() else None
