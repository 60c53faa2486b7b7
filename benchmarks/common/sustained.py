"""The sustained reading over a target's grid (`kernel_vs_baselines.py --sustained`): our kernels
and the target's baselines, each alone and back to back at the power limit, configuration by
configuration (avo_tui/evaluation/measurement/sustained.py), and the ratios to the baselines.

    x NAME     our rate over NAME's on each configuration, and their geomean over the grid
    x_best_fa  over the faster of FA3 and FA4 on each configuration (where either ran)
    x_first    a later kernel of ours over the first one listed

`reading` needs a CUDA GPU and libnvidia-ml; `summarize` and `table` are plain arithmetic and
text, for any figures.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict
from functools import partial
from typing import Any

from common.kernels import Kernel
from common.runners import baseline_runners, our_runner
from common.tables import aligned, cell

from avo_tui.evaluation.measurement.sustained import Figures
from avo_tui.evaluation.results import geometric_mean


def ratios(ours: Figures, others: dict[str, Figures], strongest: Sequence[str]
           ) -> dict[str, float]:
    """``ours``'s rate over each of ``others``', and over the fastest of ``strongest`` there."""
    out = {f"x_{name}": ours.rate / fig.rate for name, fig in others.items() if fig.rate}
    fastest = max((others[name].rate for name in strongest if name in others), default=0.0)
    if fastest:
        out["x_best_fa"] = ours.rate / fastest
    return out


def summarize(per_config: dict[str, dict[str, Figures]], ours: Sequence[str],
              strongest: Sequence[str] = ("fa3", "fa4")) -> dict[str, Any]:
    """The figures of every subject per configuration and as geomeans over the grid (clock and
    power as means), and each of ``ours``'s ratios per configuration and as geomeans; a
    subject missing from a configuration has no geomean, nor a ratio to it."""
    names = [n for n in next(iter(per_config.values()))
             if all(n in figs for figs in per_config.values())]
    geomean = {
        name: {"rate": geometric_mean([f[name].rate for f in per_config.values()]),
               "mhz": sum(f[name].mhz for f in per_config.values()) / len(per_config),
               "watts": sum(f[name].watts for f in per_config.values()) / len(per_config),
               "per_kj": geometric_mean([f[name].per_kj for f in per_config.values()])}
        for name in names}
    by_config: dict[str, dict[str, dict[str, float]]] = {}
    overall: dict[str, dict[str, float]] = {}
    baselines = [n for n in names if n not in ours]
    for kernel in ours:
        rows = {config: ratios(figs[kernel], {n: figs[n] for n in baselines}, strongest)
                for config, figs in per_config.items()}
        if kernel != ours[0]:
            for config, row in rows.items():
                row["x_first"] = per_config[config][kernel].rate / per_config[config][ours[0]].rate
        by_config[kernel] = rows
        keys = [k for k in next(iter(rows.values())) if all(k in r for r in rows.values())]
        overall[kernel] = {k: geometric_mean([r[k] for r in rows.values()]) for k in keys}
    return {"configs": {c: {n: asdict(f) for n, f in figs.items()}
                        for c, figs in per_config.items()},
            "geomean": geomean, "ratios": overall, "config_ratios": by_config}


def table(target: str, summary: dict[str, Any], unit: str = "TFLOP/s") -> str:
    """The sustained reading of one target as text: every subject's geomeans with the ratios of
    ours, then the first kernel's ratios configuration by configuration."""
    work = unit.split("/")[0]
    columns = sorted({k for r in summary["ratios"].values() for k in r},
                     key=lambda k: (k == "x_best_fa", k == "x_first", k))
    head = ("subject", unit, "MHz", "W", f"{work}/kJ", *columns)
    rows = [head]
    for name, g in summary["geomean"].items():
        mine = summary["ratios"].get(name, {})
        rows.append((name, f"{g['rate']:.1f}", f"{g['mhz']:.0f}", f"{g['watts']:.0f}",
                     f"{g['per_kj']:.1f}", *(cell(mine.get(k), ".3f") for k in columns)))
    lines = [f"== {target}, back to back at the power limit (geomean over the grid; MHz and W "
             "as means)", *aligned(rows)]
    if summary["config_ratios"]:
        first, per = next(iter(summary["config_ratios"].items()))
        keys = [k for k in columns if any(k in r for r in per.values())]
        rows = [("configuration", *(f"{first} {k}" for k in keys))]
        rows += [(config, *(cell(r.get(k), ".3f") for k in keys)) for config, r in per.items()]
        lines += ["", *aligned(rows)]
    return "\n".join(lines)


def reading(kernels: Sequence[Kernel], target_name: str, *, quick: bool,
            baselines: Sequence[str], strongest: Sequence[str], seconds: float, warmup: float,
            rounds: int, rng: random.Random,
            report: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Our ``kernels`` and ``baselines`` on every configuration of the target's grid, each back
    to back (sustained.measure); ``summarize``'s figures, the rounds' orders and the settings.
    Progress, and each baseline that cannot run here, go to ``report``."""
    from avo_tui.evaluation import get_target
    from avo_tui.evaluation.devices.power import CudaClock, Nvml, sampling
    from avo_tui.evaluation.measurement.sustained import measure

    target = get_target(target_name)
    nvml = Nvml()
    ours = [k.display() for k in kernels]
    per_config: dict[str, dict[str, Figures]] = {}
    orders: dict[str, list[list[str]]] = {}
    for config in target.grid(quick):
        built = [our_runner(kernel, target_name, config.name) for kernel in kernels]
        subjects = {name: run for name, (run, _) in zip(ours, built, strict=True)}
        subjects |= baseline_runners(list(baselines), target_name, config.name, report)
        measured = measure(subjects, partial(target.throughput, config),
                           seconds=seconds, warmup=warmup, rounds=rounds, rng=rng,
                           clock=CudaClock(), power=lambda: sampling(nvml))
        for _, kernel in built:
            kernel.close()
        per_config[config.name], orders[config.name] = measured.medians(), measured.orders
        report(f"# {target_name} {config.name} back to back: " + ", ".join(
            f"{n} {f.rate:.1f}" for n, f in per_config[config.name].items()))
    return {**summarize(per_config, ours, strongest), "orders": orders, "seconds": seconds,
            "warmup": warmup, "rounds": rounds, "unit": target.unit}
