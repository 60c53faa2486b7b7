"""``avo export --check DIR``'s work, in a fresh process (``python -m
avo_tui.commands.check_package DIR``) that imports the exported package from DIR as a user
would: the op checked against the target's float64 reference on its grid, edge shapes, drawn
shapes and hostile input cases (the evaluator's inputs and judge); through
torch.compile(fullgraph=True) and, on a GPU, a CUDA graph capture; its fallback on a head dim
(the inputs' last dimension) it was not verified on; and its speed through torch beside the
evaluator's own reading of the same kernel, configuration by configuration.

Timing through torch: calls of the op and launches of the evaluator's own kernel, one by one
in one sequence, in the evaluator's own loop (timing.sequence_events on a GPU, sequence_wall on
the CPU), each after fresh input values and the harness's L2 flush (a buffer twice the L2
zeroed; nothing on the CPU); the medians over calls rotating through three input sets, for at
least the target's time budget per configuration; beside them, the evaluator's own score of the
kernel from its worker.
"""

from __future__ import annotations

import importlib
import itertools
import json
import random
import statistics
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from ..evaluation import EvalRequest, Worker, get_target
from ..evaluation.devices.device import Kernel
from ..evaluation.devices.timing import Launch, Subject
from ..evaluation.measurement.judge import Rejected, judge_output
from ..evaluation.measurement.tensors import empty_outputs, make_inputs, poison_all, refill
from ..evaluation.pipeline import Pipeline, build_kernel
from ..evaluation.results import ConfigResult, geometric_mean
from ..evaluation.targets.problem import Config, InputSet, case_inputs
from ..evaluation.targets.spec import TargetSpec, draw_edge_configs

MIN_CALLS = 10
INPUT_SETS = 3
BATCH_CALLS = 16  # calls per time_sequence; it queues them timing.GPU_BATCH at a time


def package_of(folder: Path) -> tuple[str, dict[str, Any]]:
    found = sorted(folder.glob("*/spec.json"))
    if len(found) != 1:
        raise SystemExit(f"avo: error: {folder} holds no exported package (a folder with "
                         "spec.json)")
    return found[0].parent.name, json.loads(found[0].read_text())


class Check:
    def __init__(self, module: ModuleType, spec: dict[str, Any], target: TargetSpec) -> None:
        self.module, self.spec, self.target = module, spec, target
        self.device = "cuda" if spec["device"] == "cuda" else "cpu"
        self.generator = (torch.Generator(device=self.device).manual_seed(20261125))
        self._pipeline: Pipeline | None = None
        self.report: dict[str, Any] = {"target": target.name, "package": spec["name"],
                                       "version": spec.get("version"), "failures": []}

    def fail(self, what: str) -> None:
        self.report["failures"].append(what)
        print(f"FAILED {what}", flush=True)

    def tensors(self, inputs: InputSet) -> tuple[torch.Tensor, ...]:
        return tuple(inputs[entry["name"]] for entry in self.spec["inputs"])

    def options(self, config: Config) -> dict[str, object]:
        return {o["name"]: bool(config[o["name"]]) for o in self.spec["options"]
                if o["type"] == "bool"}

    def call(self, config: Config, inputs: InputSet) -> torch.Tensor:
        out: torch.Tensor = self.module.fwd(*self.tensors(inputs), **self.options(config))
        return out

    def correctness(self, quick: bool) -> None:
        cases: list[tuple[Config, str]] = [(c, "normal") for c in self.target.grid(quick)]
        cases += [(c, "normal") for c in self.target.edge_configs]
        cases += draw_edge_configs(self.target, random.Random(20261125))
        first = (self.target.quick_configs or self.target.configs)[0]
        cases += [(first, case) for case in self.target.problem.input_cases if case != "normal"]
        rows: list[dict[str, Any]] = []
        for config, case in cases:
            inputs = make_inputs(config, self.generator, self.device, case)
            verdict = self.module.supported(*self.tensors(inputs), **self.options(config))
            entry = ConfigResult(config, case=case)
            if not verdict:
                self.fail(f"{config.name} ({case_inputs(case)}): the op falls back "
                          f"({verdict.reason})")
                continue
            try:
                judge_output(self.target.tolerance, inputs, self.call(config, inputs), entry)
            except Rejected as rejected:
                self.fail(f"{config.name} ({case_inputs(case)}): {rejected.failure}")
            rows.append({"config": config.name, "case": case, "passed": bool(entry.passed),
                         "max_abs": entry.max_abs_err, "rel_l2": entry.rel_l2_err})
        self.report["correctness"] = rows
        passed = sum(r["passed"] for r in rows)
        print(f"correct on {passed} of {len(cases)} configurations and cases (grid, edges, "
              "drawn, hostile)", flush=True)

    def small(self) -> tuple[Config, InputSet]:
        """The least edge configuration that crosses a tile, and inputs for it."""
        crossing = [c for c in self.target.edge_configs if self.target.problem.crosses_tiles(c)]
        config = min(crossing or self.target.edge_configs,
                     key=lambda c: c.work.of(self.target.score_by))
        return config, make_inputs(config, self.generator, self.device)

    def compiled(self) -> None:
        config, inputs = self.small()
        options = self.options(config)
        compiled = torch.compile(lambda *t: self.module.fwd(*t, **options), fullgraph=True)
        same = torch.equal(compiled(*self.tensors(inputs)), self.call(config, inputs))
        self.report["torch_compile_fullgraph"] = same
        print(f"torch.compile(fullgraph=True) on {config.name}: "
              f"{'same output as eager' if same else 'DIFFERS'}", flush=True)
        if not same:
            self.fail("torch.compile's output differs from eager")

    def graph(self) -> None:
        if self.device != "cuda":
            self.report["cuda_graph"] = None
            return
        config, inputs = self.small()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.call(config, inputs)  # builds, loads and grants before the capture
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            captured = self.call(config, inputs)
        fresh = make_inputs(config, self.generator, self.device)
        for name, tensor in fresh.named.items():
            inputs[name].copy_(tensor)
        graph.replay()
        torch.cuda.synchronize()
        same = torch.equal(captured, self.call(config, fresh))
        self.report["cuda_graph"] = same
        print(f"CUDA graph capture and replay on new inputs, {config.name}: "
              f"{'same output as eager' if same else 'DIFFERS'}", flush=True)
        if not same:
            self.fail("the CUDA graph's output differs from eager")

    def fallback(self) -> None:
        axis = self.spec["inputs"][0]["axes"][-1]
        low, high = self.spec["dims"][axis]
        value = low // 2 if low // 2 >= 1 else high + 1
        config = self.small()[0].with_dims(**{axis: value})
        inputs = make_inputs(config, self.generator, self.device)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            out = self.call(config, inputs)
        words = [str(w.message) for w in said if issubclass(w.category, RuntimeWarning)]
        entry = ConfigResult(config)
        try:
            judge_output(self.target.tolerance, inputs, out, entry)
        except Rejected as rejected:
            self.fail(f"the fallback on {axis} {value}: {rejected.failure}")
        self.report["fallback"] = {"config": config.name, "warning": words[0] if words else None,
                                   "correct": bool(entry.passed)}
        print(f"{axis} {value} ({config.name}): {words[0] if words else 'NO WARNING'}",
              flush=True)
        if not words:
            self.fail(f"no warning on {axis} {value}")

    def timing(self, quick: bool, rounds: int) -> None:
        """Each configuration's throughput through torch beside the evaluator's, over
        ``rounds`` rounds that alternate which of the two readings goes first.

        ``beside``: the op and the evaluator's own kernel (the package's sources built as an
        evaluation builds them, pipeline.build_kernel, in this process) launched one by one in
        one sequence, A B B A, in the evaluator's own loop, on the same input sets and flush.
        Side by side they run at one clock, so the ratio is what the op costs over the
        evaluator's launch and nothing else. ``score``: the evaluator's own score of the kernel
        from its worker, as `avo eval` reports it. It sits a few percent above any caller's
        that keeps the GPU busy, the evaluator's kernel itself included: a GPU held at its
        power limit clocks lower under an unbroken sequence of launches than under the
        evaluator's, which (as we read it) pauses to check outputs (RESULTS.md, issue 55)."""
        folder = Path(str(self.module.__file__)).parent / "kernel"
        sources = {name: (folder / name).read_text()
                   for name in self.spec["sources"]}
        request = EvalRequest(self.target.ref, sources, quick=quick, measure_baselines=False)
        grid = self.target.grid(quick)
        readings: dict[str, dict[str, list[float]]] = {
            c.name: {"op": [], "beside": [], "score": []} for c in grid}
        try:
            kernel = build_kernel(self.pipeline(), request)
        except Rejected as rejected:  # the op skips the contract's checks: an edited package
            self.fail(f"the evaluator cannot build the package's kernel: {rejected.failure}")
            return
        try:
            with Worker(self.device) as worker:
                for index in range(rounds):
                    for turn in ((0, 1) if index % 2 == 0 else (1, 0)):
                        if turn == 0:
                            result = worker.evaluate(request)
                            if not result.correct:
                                self.fail(f"the evaluator rejected the kernel: {result.failure}")
                            for c in result.timed:
                                readings[c.name]["score"].append(c.throughput)
                            continue
                        for config in grid:
                            ours, theirs = self.beside_seconds(config, kernel)
                            readings[config.name]["op"].append(
                                self.target.throughput(config, ours))
                            readings[config.name]["beside"].append(
                                self.target.throughput(config, theirs))
        finally:
            kernel.close()
        rows = [timing_row(config.name, readings[config.name]) for config in grid]
        ratios = [r["ratio"] for r in rows if r["ratio"]]
        score_ratios = [r["ratio_score"] for r in rows if r["ratio_score"]]
        self.report["timing"] = {
            "unit": self.target.unit, "rounds": rounds, "configs": rows,
            "geomean_ratio": geometric_mean(ratios) if ratios else None,
            "geomean_ratio_score": geometric_mean(score_ratios) if score_ratios else None}
        print(f"\n{'configuration':<34}{'op via torch':>14}{'kernel beside':>15}{'ratio':>8}"
              f"{'eval score':>12}{'ratio':>8}   ({self.target.unit})")
        for r in rows:
            ratio = f"{r['ratio']:.3f}" if r["ratio"] else "-"
            score_ratio = f"{r['ratio_score']:.3f}" if r["ratio_score"] else "-"
            print(f"{r['config']:<34}{r['op']:>14.2f}{r['beside']:>15.2f}{ratio:>8}"
                  f"{r['score'] or 0:>12.2f}{score_ratio:>8}")
        if ratios:
            overall = f"{geometric_mean(score_ratios):.3f}" if score_ratios else "-"
            print(f"{'geomean ratio':<63}{geometric_mean(ratios):>8.3f}{'':>12}{overall:>8}   "
                  f"(medians of {rounds} round(s))", flush=True)

    def beside_seconds(self, config: Config, kernel: Kernel) -> tuple[float, float]:
        """The median seconds of a call of the op through torch and of a launch of the
        evaluator's ``kernel``, timed one by one in one sequence (A B B A ...) in the
        evaluator's loop (its device's time_sequence), each on input values never seen before,
        written just before it, after the harness's cache flush (the L2 on a GPU; nothing on
        the CPU, where the harness flushes nothing either); both rotate through the same
        input sets, for at least the target's time budget."""
        sets = [make_inputs(config, self.generator, self.device) for _ in range(INPUT_SETS)]
        outs = empty_outputs(config, self.device)
        for inputs in sets:
            self.call(config, inputs)
        device = self.pipeline().device
        rotation = itertools.cycle(sets)
        current = [sets[0]]

        def fresh() -> InputSet:
            current[0] = next(rotation)
            refill(config, current[0], self.generator)
            return current[0]

        def prepare_op() -> None:
            fresh()
            device.flush_cache()

        def prepare_kernel() -> None:
            inputs = fresh()
            poison_all(outs)
            kernel.stage(config, inputs, outs)
            device.flush_cache()

        def run_op() -> None:  # a run that returns a number has timed itself (sequence_wall)
            self.call(config, current[0])

        op = Subject("op", prepare_op, run_op)
        theirs = Subject("kernel", prepare_kernel, kernel.fire)
        launches: list[Launch] = [(s, False) for _ in range(BATCH_CALLS // 4)
                                  for s in (op, theirs, theirs, op)]
        times: dict[str, list[float]] = {"op": [], "kernel": []}
        device.time_sequence([op, theirs], [])
        started = time.perf_counter()
        while (min(len(t) for t in times.values()) < MIN_CALLS
               or time.perf_counter() - started < self.target.time_budget_s):
            for (subject, _), seconds in zip(launches, device.time_sequence([], launches),
                                             strict=True):
                times[subject.name].append(seconds)
        return statistics.median(times["op"]), statistics.median(times["kernel"])

    def pipeline(self) -> Pipeline:
        """The evaluator's pipeline in this process (its device: flush, loop, loader), made
        once."""
        if self._pipeline is None:
            self._pipeline = Pipeline(self.device)
        return self._pipeline


def timing_row(name: str, readings: dict[str, list[float]]) -> dict[str, Any]:
    """One configuration's medians over the rounds: the op's, the evaluator's kernel's beside
    it and the evaluator's score; the op's ratios to the other two."""
    ours, beside = statistics.median(readings["op"]), statistics.median(readings["beside"])
    score = statistics.median(readings["score"]) if readings["score"] else 0.0
    return {"config": name, "op": ours, "beside": beside, "score": score,
            "ratio": ours / beside if beside else None,
            "ratio_score": ours / score if score else None,
            "rounds": readings}


def main(argv: list[str]) -> int:
    folder = Path(argv[0]).resolve()
    quick = "--quick" in argv
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 1
    name, spec = package_of(folder)
    sys.path.insert(0, str(folder))
    module = importlib.import_module(name)
    check = Check(module, spec, get_target(spec["target"]))
    print(f"checking {name} ({module.__file__}), target {spec['target']}, "
          f"{spec.get('version') or 'seed'}", flush=True)
    check.correctness(quick)
    check.compiled()
    check.graph()
    check.fallback()
    check.timing(quick, rounds)
    if "--json" in argv:
        Path(argv[argv.index("--json") + 1]).write_text(json.dumps(check.report, indent=1))
    failures = check.report["failures"]
    print("check passed" if not failures else f"check FAILED: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
