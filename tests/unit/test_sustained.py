"""The sustained reading (issue 70): each subject alone, back to back at the power limit, in a
fresh random order per round; its energy arithmetic, its loop on a stand-in device, the
grid's ratios and table, and `kernel_vs_baselines.py --sustained`'s arguments. The same code
on a real GPU: tests/gpu/test_sustained_gpu.py."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from avo_tui.evaluation.devices.power import Sample
from avo_tui.evaluation.measurement.sustained import (
    Figures,
    Run,
    back_to_back,
    figures,
    measure,
    median,
    round_orders,
)

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from common.sustained import summarize, table

import kernel_vs_baselines


class StandIn:
    """A device whose launches take ``each`` seconds of device time and of host time, and a
    power source that reads ``sample`` while a timed stretch runs: what back_to_back sees."""

    def __init__(self, each: float = 0.01, sample: Sample = (1500.0, 700.0)) -> None:
        self.each, self.sample = each, sample
        self.time = 0.0
        self.log: list[str] = []
        self.started_at: int | None = None
        self.timed: list[Sample] | None = None

    def now(self) -> float:
        return self.time

    def launch(self, name: str = "k") -> None:
        self.time += self.each
        self.log.append(name)
        if self.timed is not None:
            self.timed.append(self.sample)

    def start(self) -> None:
        self.started_at = len(self.log)

    def stop(self) -> float:
        assert self.started_at is not None
        return (len(self.log) - self.started_at) * self.each

    def synchronize(self) -> None:
        pass

    def power(self) -> AbstractContextManager[list[Sample]]:
        @contextmanager
        def sampled() -> Iterator[list[Sample]]:
            self.timed = []
            try:
                yield self.timed
            finally:
                self.timed = None
        return sampled()


def test_work_per_energy_is_the_rate_over_the_mean_power() -> None:
    run = Run(seconds_each=0.02, launches=50, samples=((1480.0, 690.0), (1500.0, 710.0)))
    got = figures(run, lambda seconds: 14.0 / seconds)  # 14 TFLOP a launch: 700 TFLOP/s
    assert got.rate == pytest.approx(700.0)
    assert got.mhz == pytest.approx(1490.0) and got.watts == pytest.approx(700.0)
    # 700 TFLOP/s at 700 W is 1 TFLOP/J: 1000 TFLOP/kJ
    assert got.per_kj == pytest.approx(1000.0)
    unsampled = figures(Run(0.02, 50, ()), lambda seconds: 14.0 / seconds)
    assert unsampled.rate == pytest.approx(700.0)
    assert (unsampled.mhz, unsampled.watts, unsampled.per_kj) == (0.0, 0.0, 0.0)


def test_the_warm_up_is_neither_timed_nor_sampled() -> None:
    device = StandIn(each=0.01)
    run = back_to_back(device.launch, seconds=0.5, warmup=0.3, clock=device,
                       power=device.power, now=device.now)
    assert device.started_at is not None and device.started_at >= 30  # 0.3 s of launches
    assert run.launches == len(device.log) - device.started_at
    assert run.launches >= 50 and run.seconds_each == pytest.approx(0.01)
    assert len(run.samples) == run.launches  # one per timed launch, none of the warm-up's


def test_each_round_runs_every_subject_in_a_fresh_random_order() -> None:
    names = ["seed", "cudnn", "flash", "fa4", "fa3"]
    orders = round_orders(names, 20, random.Random(7))
    assert all(sorted(order) == sorted(names) for order in orders)
    assert orders == round_orders(names, 20, random.Random(7))  # --seed reproduces them
    assert len({tuple(order) for order in orders}) > 10
    assert {order[0] for order in orders} == set(names)  # no subject always leads


def test_measure_runs_the_subjects_in_the_orders_it_reports() -> None:
    device = StandIn(each=0.01)
    subjects = {name: (lambda n=name: device.launch(n)) for name in ("ours", "fa3", "cudnn")}
    measured = measure(subjects, lambda seconds: 1.0 / seconds, seconds=0.1, warmup=0.05,
                       rounds=3, rng=random.Random(1), clock=device, power=device.power,
                       now=device.now)
    ran = [name for i, name in enumerate(device.log) if i == 0 or device.log[i - 1] != name]
    assert ran == [name for order in measured.orders for name in order]
    assert all(len(runs) == 3 for runs in measured.rounds.values())
    assert measured.medians()["fa3"].rate == pytest.approx(100.0)


def test_the_median_is_taken_figure_by_figure_and_the_work_per_energy_of_the_medians() -> None:
    """Each round's own work per energy (the last figure) is not its median's: the table's
    TFLOP/kJ is its TFLOP/s over its watts."""
    rounds = [Figures(700, 1500, 690, 1014), Figures(690, 1480, 700, 985),
              Figures(710, 1490, 695, 1021)]
    got = median(rounds)
    assert (got.rate, got.mhz, got.watts) == (700, 1490, 695)
    assert got.per_kj == pytest.approx(700 / 695 * 1000)


def fig(rate: float, watts: float = 700.0) -> Figures:
    return Figures(rate, 1500.0, watts, rate / watts * 1000.0)


PER_CONFIG = {
    "b8-full": {"seed": fig(660), "new": fig(666), "cudnn": fig(600), "fa3": fig(670),
                "fa4": fig(640)},
    "b8-causal": {"seed": fig(620), "new": fig(614), "cudnn": fig(560), "fa3": fig(600),
                  "fa4": fig(625)},
}


def test_the_grid_ratios_are_geomeans_of_each_configurations_ratios() -> None:
    got = summarize(PER_CONFIG, ["seed", "new"])
    seed = got["ratios"]["seed"]
    assert seed["x_fa3"] == pytest.approx(((660 / 670) * (620 / 600)) ** 0.5)
    # against the faster of FA3 and FA4 on each configuration: FA3 on one, FA4 on the other
    assert seed["x_best_fa"] == pytest.approx(((660 / 670) * (620 / 625)) ** 0.5)
    assert "x_first" not in seed
    assert got["ratios"]["new"]["x_first"] == pytest.approx(((666 / 660) * (614 / 620)) ** 0.5)
    assert got["config_ratios"]["seed"]["b8-causal"]["x_cudnn"] == pytest.approx(620 / 560)
    assert got["geomean"]["fa3"]["rate"] == pytest.approx((670 * 600) ** 0.5)
    assert got["geomean"]["fa3"]["watts"] == pytest.approx(700.0)


def test_a_baseline_missing_on_a_configuration_has_no_grid_ratio() -> None:
    partial = {"b8-full": PER_CONFIG["b8-full"],
               "b8-causal": {k: v for k, v in PER_CONFIG["b8-causal"].items() if k != "fa4"}}
    got = summarize(partial, ["seed"])
    assert "x_fa4" not in got["ratios"]["seed"] and "fa4" not in got["geomean"]
    assert "x_fa3" in got["ratios"]["seed"] and "x_best_fa" in got["ratios"]["seed"]


def test_the_table_gives_each_subjects_figures_and_our_ratios() -> None:
    text = table("mha", summarize(PER_CONFIG, ["seed", "new"]))
    lines = text.splitlines()
    assert lines[0].startswith("== mha, back to back at the power limit")
    header = lines[1].split()
    assert header[:5] == ["subject", "TFLOP/s", "MHz", "W", "TFLOP/kJ"]
    assert header[-2:] == ["x_first", "x_best_fa"]
    fa3 = next(line.split() for line in lines if line.startswith("fa3 "))
    assert fa3[1] == f"{(670 * 600) ** 0.5:.1f}" and set(fa3[5:]) == {"-"}
    seed = next(line.split() for line in lines if line.startswith("seed "))
    assert seed[header.index("x_fa3")] == f"{((660 / 670) * (620 / 600)) ** 0.5:.3f}"
    causal = next(line.split() for line in lines if line.startswith("b8-causal"))
    assert f"{620 / 560:.3f}" in causal


def test_sustained_settings_need_sustained_and_default_to_issue_70s() -> None:
    with pytest.raises(SystemExit):
        kernel_vs_baselines.parse_args(["--targets", "mha", "--seconds", "1"])
    with pytest.raises(SystemExit):
        kernel_vs_baselines.parse_args(["--targets", "mha", "--sustained", "--rounds", "0"])
    args = kernel_vs_baselines.parse_args(["--targets", "mha", "--sustained"])
    assert (args.seconds, args.warmup, args.rounds) == (0.5, 0.5, 3)
    args = kernel_vs_baselines.parse_args(["--targets", "mha", "--sustained", "--seconds",
                                           "2", "--warmup", "0", "--rounds", "5"])
    assert (args.sustained, args.seconds, args.warmup, args.rounds) == (True, 2.0, 0.0, 5)


def test_the_two_readings_are_printed_side_by_side() -> None:
    report: dict[str, Any] = {
        "mha": {"seed": {"correct": True, "x_fa3": 1.018, "x_fa4": None, "x_best_fa": 1.017}},
        "sustained": {"mha": summarize(PER_CONFIG, ["seed"])},
    }
    back = report["sustained"]["mha"]["ratios"]["seed"]
    [line] = kernel_vs_baselines.two_readings(report)
    assert line.startswith("mha      seed")
    assert f"x_fa3 1.018 / {back['x_fa3']:.3f}" in line
    assert f"x_best_fa 1.017 / {back['x_best_fa']:.3f}" in line
    assert "x_fa4" not in line  # not measured interleaved
