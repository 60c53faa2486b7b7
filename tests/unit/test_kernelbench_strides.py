"""A size that a wide stride floors (shapes._past_wide_stride): five stride-2 convolutions give
an output ceil(height / 32) high, which no move of up to 37 pins down; fitted by where it
steps, so height and width vary and the problem gets its seed (ResNet-101 and MobileNet-V1 of
the real KernelBench got none before)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from kernelbench_problems import FIVE_STRIDES
from test_kernelbench_import import evaluate

from avo_tui.kernelbench import import_problem
from avo_tui.kernelbench.problem.shapes import WIDEST_STRIDE, _past_wide_stride
from avo_tui.kernelbench.problem.size_expr import SizeExpr

Probe = Callable[[Mapping[str, int]], int | None]


def probes(form: SizeExpr, dim: str, base: int, builds_below: int | None = None
           ) -> tuple[Probe, list[int]]:
    """The size ``form`` gives as ``dim`` moves from ``base`` (None from ``builds_below``
    on, as a problem that does not build there), and the moves asked."""
    asked: list[int] = []

    def at(moves: Mapping[str, int]) -> int | None:
        step = moves[dim]
        asked.append(step)
        if builds_below is not None and base + step >= builds_below:
            return None
        return form.value({dim: base + step})
    return at, asked


@pytest.mark.parametrize(("offset", "stride", "base"), [(31, 32, 224), (63, 64, 100),
                                                        (0, 7 * 32, 224), (5, 24, 17)])
def test_a_wide_stride_is_read_off_two_steps(offset: int, stride: int, base: int) -> None:
    form = SizeExpr((("h", 1),), offset, stride)
    at, asked = probes(form, "h", base)
    found = _past_wide_stride(form.value({"h": base}), "h", {"h": base}, at)
    assert found is not None
    assert all(found.value({"h": h}) == form.value({"h": h}) for h in range(1, 4 * stride))
    assert len(set(asked)) <= 4 * (stride.bit_length() + 1)  # doubling, then halving


def test_no_form_where_the_size_does_not_step_or_a_probe_does_not_build() -> None:
    flat = SizeExpr.constant(7)
    at, _ = probes(flat, "h", 224)
    assert _past_wide_stride(7, "h", {"h": 224}, at) is None
    wide = SizeExpr((("h", 1),), 31, 32)
    at, asked = probes(wide, "h", 224, builds_below=250)
    assert _past_wide_stride(7, "h", {"h": 224}, at) is None
    assert max(asked) <= 2 * WIDEST_STRIDE + 26


def test_five_stride_two_convolutions_vary_and_get_a_seed(tmp_path: Path) -> None:
    path = tmp_path / "five_strides.py"
    path.write_text(FIVE_STRIDES)
    imported = import_problem(path)
    assert imported.seed is not None
    text = imported.target.read_text()
    assert '(c["height"] + 31) // 32' in text and '(c["width"] + 31) // 32' in text
    result = evaluate(imported.target, imported.seed)
    assert result.correct, result.failure
