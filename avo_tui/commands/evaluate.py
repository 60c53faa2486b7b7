"""``avo eval``: score one kernel on one target, exactly as a run would."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..engine.launch import check_target_file, choose_seed, gpu_arch, seed_files
from ..evaluation import EvalRequest, EvalResult, Worker, get_target
from ..evaluation.declarations.candidate import CandidateError, apply_knobs, infer_target
from ..evaluation.measurement.sustained import MOST_SUSTAINED_S, SUSTAINED_ROUNDS, SUSTAINED_S
from . import MOST_SECONDS, Subcommands, add_command, bounded_float, input_seed
from .tables import figure, listing_console, times

EXIT_REJECTED = 3

EPILOG = """\
exit status: 0 when the kernel passes, 3 when it is rejected (the reason is printed),
1 for any other error.

examples:
  avo eval --target cpu-attention        # the seed that ships with avo-tui
  avo eval kernels/cpu/attention.c --target cpu-attention
  avo eval kernels/cpu/attention.c --quick --knob BLOCK_Q=64 --knob THREADS=2
  avo eval my_kernel/ --target cpu-attention --json > result.json
  avo eval --target mha --quick --sustained    # and back to back, at power
"""


def cmd_eval(args: argparse.Namespace) -> int:
    if args.path is None and not args.target:
        raise CandidateError("name a kernel (a file or a folder), or a --target to score the "
                             "seed kernel that comes with it")
    target = get_target(args.target) if args.target else infer_target(args.path)
    progress = StatusLine(enabled=sys.stderr.isatty())
    with Worker(target.device) as worker:
        progress("check", f"checking the target {target.name}")
        check_target_file(target, worker)
        if args.path is None:  # the target's seed for this GPU, with its knob values
            choice = choose_seed(target, gpu_arch(target, worker.wait_ready))
            path, sources = choice.path, choice.files
            print(choice.note, file=sys.stderr)
        else:
            path, sources = args.path, seed_files(target, args.path)
        if args.knob:
            sources = apply_knobs(sources, dict(_knob(k) for k in args.knob))
        request = EvalRequest(
            target.ref,
            sources,
            quick=args.quick,
            seed=args.seed,
            measure_baselines=not args.no_baseline,
            sustained_s=args.sustained or 0.0,
        )
        progress("start", f"evaluating {path} on {target.name}")
        result = worker.evaluate(request, timeout_s=args.timeout, on_progress=progress)
    progress.clear()
    result.refuse_unusable_target()
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print_result(result, listing_console())
    return 0 if result.correct else EXIT_REJECTED


def _knob(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise CandidateError(f"--knob takes NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


class StatusLine:
    """One status line on stderr, rewritten in place; silent when stderr is not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, phase: str, detail: str) -> None:
        if self.enabled:
            sys.stderr.write(f"\r\033[K{phase} {detail}"[:200])
            sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def print_result(result: EvalResult, console: Console) -> None:
    table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
    for column in ("config", result.unit, "baseline", "ratio", "rel L2", "max abs", "ok"):
        table.add_column(column, justify="left" if column == "config" else "right", no_wrap=True)
    for c in result.configs:
        ok = {True: "pass", False: "[red]FAIL[/]", None: "-"}[c.passed]
        table.add_row(
            c.label,
            "-" if c.edge else figure(c.throughput if c.timing else None),
            figure(c.baseline),
            times(c.ratio),
            figure(c.rel_l2_err, digits=".2e"),
            figure(c.max_abs_err, digits=".2e"),
            ok,
        )
    if result.configs:
        console.print(table)
    if result.compile is not None and not result.compile.ok:
        errors = result.compile.errors or result.compile.diagnostics
        if len(errors) > 1:
            console.print(f"{len(errors)} compiler errors:")
            for diagnostic in errors[:20]:
                console.print(f"  {escape(str(diagnostic))}")
    resources = result.compile.resources if result.compile else {}
    if "registers" in resources:
        spills = resources.get("spill_stores", 0) + resources.get("spill_loads", 0)
        console.print(
            f"{resources['registers']} registers, {spills} bytes spilled, "
            f"{resources.get('stack_bytes', 0)} bytes stack"
        )
    print_sustained(result, console)
    for flag in result.flags:
        console.print(f"[yellow]flag:[/] {escape(flag)}")
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    if len(result.ratios) > 1:
        console.print("geomean " + ", ".join(f"{ratio:.3f}x {name}"
                                             for name, ratio in result.ratios.items()))
    tail = f"seed {result.seed}, {result.seconds:.1f} s"
    if result.correct:
        console.print(f"[bold green]PASS[/] {result.summary().removeprefix('PASS ')} ({tail})")
    else:
        assert result.failure is not None
        console.print(f"[bold red]FAIL[/] {escape(str(result.failure))}")
        console.print(f"[dim]({tail})[/]")


def print_sustained(result: EvalResult, console: Console) -> None:
    """The back-to-back reading, where it was asked for: per timed configuration the kernel's
    rate and the primary baseline's, their ratio, and the kernel's clock, power and work per
    energy where the device reports power (not the CPU)."""
    read = [c for c in result.timed if c.sustained]
    if not read:
        return
    work = result.unit.split("/")[0]
    table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True,
                  title="back to back, each alone (medians of "
                        f"{SUSTAINED_ROUNDS} rounds)", title_justify="left")
    powered = any(c.sustained["candidate"]["watts"] for c in read)
    columns = ("config", result.unit, "baseline", "ratio",
               *(("MHz", "W", f"{work}/kJ") if powered else ()))
    for column in columns:
        table.add_column(column, justify="left" if column == "config" else "right", no_wrap=True)
    for c in read:
        ours = c.sustained["candidate"]
        base = c.sustained.get(c.primary_baseline or "", {}).get("rate")
        power = (figure(ours["mhz"] or None, digits=".0f"),
                 figure(ours["watts"] or None, digits=".0f"), figure(ours["per_kj"] or None))
        table.add_row(c.label, figure(ours["rate"]), figure(base),
                      times(ours["rate"] / base if base else None), *(power if powered else ()))
    console.print(table)
    if result.sustained_ratios:
        console.print("back to back, geomean " + ", ".join(
            f"{ratio:.3f}x {name}" for name, ratio in result.sustained_ratios.items())
            + (f" (interleaved {result.ratio:.3f}x)" if result.ratio else ""))


def register(commands: Subcommands) -> None:
    p = add_command(
        commands,
        "eval",
        cmd_eval,
        "score a kernel on a target",
        "Compile a kernel, check it on every configuration and edge shape of the target with "
        "fresh random inputs, time it against the target's baselines and print the scores. "
        "The kernel runs in an isolated worker process: a crash or a hang is reported as the "
        "kernel's failure.",
        EPILOG,
    )
    p.add_argument("path", type=Path, nargs="?",
                   help="a kernel source file, or a folder of them (default: the seed kernel "
                   "of --target, as shipped with avo-tui)")
    p.add_argument("--target", help="target name (default: inferred from the file type)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="time the target's short grid (every edge shape is still checked)",
    )
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--seed", type=input_seed,
                   help="input seed, to reproduce an earlier evaluation")
    p.add_argument(
        "--knob",
        action="append",
        metavar="NAME=VALUE",
        help="override a declared knob (repeatable)",
    )
    p.add_argument(
        "--timeout",
        type=bounded_float(MOST_SECONDS),
        metavar="S",
        help="seconds without progress before the kernel is presumed hung (default: the target's)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip timing the baselines")
    p.add_argument(
        "--sustained",
        type=bounded_float(MOST_SUSTAINED_S),
        nargs="?",
        const=SUSTAINED_S,
        metavar="S",
        help="also read the kernel and each baseline back to back, each alone for S seconds "
        f"after S of warm-up, in {SUSTAINED_ROUNDS} rounds of random order (default "
        f"{SUSTAINED_S:g}): the rate users see at the power limit, with the SM clock, the "
        "power and the work per kJ on a GPU. The score stays the interleaved reading",
    )
