"""The honest computation's error as backward error analysis bounds it: a correct float32
kernel computes the exact output of inputs an ulp or so from the ones given, so it may be as
far off as the honest computation is on such inputs. One run of the honest computation on the
inputs as given is one draw of its rounding, and where a few elements carry a row or a column
(a LeakyReLU leaves one positive element of five dominant) that draw can land near zero while
a correct kernel's lands at half an ulp: after a product with a large offset, GroupNorm's
statistics amplify each element's rounding a hundredfold, and eight times the honest draw
rejected the importer's own seed of KernelBench level2/62 in 18 of 20 evaluations. Run on
inputs moved one ulp each way, the honest computation's error is at least its response to a
one-ulp change of every input, which a half-ulp rounding never exceeds.

Only float32 inputs are moved: a bf16 or float16 input's ulp is coarser than the rounding a
kernel at that precision is held to (one more rounding than torch's fails, on purpose), and a
zero stays zero (a relative perturbation; a mask or a padding of zeros keeps its meaning)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

# Independent sign patterns, each applied both ways: of one pattern, one of the two moves
# shows every element's response in full (|a + b| or |a - b| is at least |b|, whatever the
# rounding a), and a second pattern covers elements whose response to the first cancels (a
# GroupNorm group whose sixteen inputs all moved alike shifts its mean and nothing else).
PATTERNS = 2
SEED = 0x5EED  # fixed: the moves widen a bound, so knowing them gains a kernel nothing
# Each move: a pattern of signs, applied as drawn (True) or reversed (False).
MOVES = tuple((pattern, way) for pattern in range(PATTERNS) for way in (True, False))


def neighbours(inputs: Mapping[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """Copies of ``inputs`` with every nonzero float32 value moved one ulp, up or down by a
    drawn sign: PATTERNS patterns of signs, each once as drawn and once reversed; none where
    no input is float32. Other tensors are shared, not copied."""
    moving = {name for name, tensor in inputs.items() if tensor.dtype == torch.float32}
    if not moving:
        return []
    return [{name: moved(tensor, move) if name in moving else tensor
             for name, tensor in inputs.items()} for move in MOVES]


def moved(tensor: torch.Tensor, move: tuple[int, bool]) -> torch.Tensor:
    """``tensor`` with every nonzero finite value moved one ulp of its dtype, up or down by
    the signs of ``move`` (one of MOVES). A computation also moves its own intermediates so
    (attention's backward: where dP - D cancels, a correct kernel's rounding of dP is
    another draw than the honest computation's, and no move of the inputs shows it)."""
    pattern, way = move
    up = _signs(tensor, pattern)
    kept = (tensor == 0) | ~torch.isfinite(tensor)
    return _moved(tensor, up if way else ~up, kept)


def shifted(tensor: torch.Tensor, by: torch.Tensor, move: tuple[int, bool]) -> torch.Tensor:
    """``tensor`` plus or minus ``by``, elementwise, by the signs of ``move``: a difference
    moved by the rounding its operands carry (a one-ulp move of each can cancel)."""
    pattern, way = move
    up = _signs(tensor, pattern)
    return torch.where(up if way else ~up, tensor + by, tensor - by)


def _signs(tensor: torch.Tensor, pattern: int) -> torch.Tensor:
    generator = torch.Generator(device=tensor.device).manual_seed(SEED + pattern)
    return torch.randint(0, 2, tensor.shape, generator=generator,
                         device=tensor.device).bool()


def _moved(tensor: torch.Tensor, up: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    inf = torch.tensor(torch.inf, dtype=tensor.dtype, device=tensor.device)
    return torch.where(kept, tensor, torch.nextafter(tensor, torch.where(up, inf, -inf)))


def farthest(exact: torch.Tensor, given: torch.Tensor, moved: Sequence[torch.Tensor]
             ) -> torch.Tensor:
    """Elementwise, the output farthest from ``exact``: the honest one on the inputs as
    ``given``, else one on ``moved`` inputs where it is finite (a move that overflows a value
    says nothing of the rounding of a finite one)."""
    worst = given.clone()
    gap = (given - exact).abs().nan_to_num_(torch.inf)  # a NaN given is never replaced
    for other in moved:
        other_gap = (other - exact).abs_()
        further = (other_gap > gap) & (other_gap < torch.inf)  # a NaN compares false
        worst = torch.where(further, other, worst)
        gap = torch.where(further, other_gap, gap)
    return worst


def farthest_rows(given: torch.Tensor, moved: Sequence[torch.Tensor], exact: torch.Tensor | None,
                  exact_rows: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``farthest`` for a sample's rows: ``given`` alone where no input moved; the exact rows
    computed (``exact_rows``) only where the caller did not hand them over."""
    if not moved:
        return given
    return farthest(exact if exact is not None else exact_rows(), given, moved)
