"""A session made ready for ``avo run``: resumed with what the options change, or created with
its seed scored, with its budgets, its operator's settings, its knowledge folders and its
evaluation workers. ``run.prepare_run`` chooses between the two; each job below is one
function, in the order the run needs them (a check that can fail comes before any work)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..engine import Budgets, Evaluator, RunSettings, SupervisorLimits, create_session, seed_files
from ..engine.lanes import check_lanes, describe_lanes, resumed_lanes
from ..engine.launch import (
    NO_SEED_NOTE,
    check_target_file,
    choose_seed,
    gpu_arch,
    in_kernels_dir,
    kernels_dir,
    needs_a_seed,
    session_target,
    shipped_target_changed,
)
from ..evaluation import TargetSpec, get_target
from ..evaluation.targets.archs import host_arch
from ..evaluation.targets.file import resolve
from ..evaluation.targets.spec import is_target_file
from ..knowledge import configured_folders, flag_folders
from ..operators import OperatorUnavailable, operator_names
from ..operators.agent import AgentSettings, load_settings
from ..operators.agent.settings import agent_default
from ..pool import WorkerPool, check_flags, evaluation_pool, visible_gpus
from ..store import NO_VERSION_YET, OperatorPayload, Session, SessionCatalog, StoreError
from ..store.clip import sentence
from ..views.events import counted


@dataclass
class PreparedRun:
    """A session opened (or created, its seed scored) with everything its engine needs."""

    session: Session
    target: TargetSpec
    settings: RunSettings
    budgets: Budgets
    pool: WorkerPool  # the evaluation workers, one per GPU (pool/)
    evaluator: Evaluator
    agent: AgentSettings | None
    knowledge: list[Path]  # the agent's knowledge folders: knowledge/, then the user's


# -- what the options ask for ------------------------------------------------------------------


def _agent_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The agent's options as given (None where not), as AgentSettings fields: a new agent
    option of ``avo run`` (add_run_options) joins them here."""
    return dict(model=args.model, max_tokens=args.max_output_tokens, thinking=args.thinking,
                effort="" if args.effort == "none" else args.effort, provider=args.provider,
                max_step_cost_usd=args.max_step_cost)


def _run_budgets(args: argparse.Namespace, kept: Budgets, steps_used: int) -> Budgets:
    """The session's budgets (``kept``), with the limits given as options; ``--max-steps``
    counts from ``steps_used``, the steps the session has already run."""
    limits = dict(hours=args.hours, max_cost_usd=args.max_cost, max_tokens=args.token_budget)
    return kept.override(**limits).for_run(args.max_steps, steps_used)


# -- resume -----------------------------------------------------------------------------------


def resume(catalog: SessionCatalog, args: argparse.Namespace, console: Console) -> PreparedRun:
    """Open ``args.session`` to go on with it: its own settings, with what the options change
    (kept for later runs). The session is closed again if anything fails."""
    if args.origin:
        raise StoreError(f"--from seeds a new session, and '{args.session}' exists; "
                         "choose another --session name")
    session = catalog.open(args.session)
    try:
        settings = RunSettings.from_doc(session.meta.get("settings", {}))
        target = _session_target(session, args.target)
        changed = shipped_target_changed(session.name, session.meta, target)
        if changed:
            console.print(f"note: {escape(changed)}")
        budgets = _resumed_budgets(session, settings, args)
        was = session.run_state.operator or settings.operator
        # every check before anything is written: a refused value leaves the session as it was
        placement = _placement(args, session, settings, target)
        lanes = resumed_lanes(session, settings.lanes, args.lanes,
                              worker_count(target, ray=args.ray, **placement))
        settings = replace(settings, operator=args.operator or was, lanes=lanes.count)
        if session.head is None:  # no version yet: only the agent can write v0
            _refuse_without_seed(target, settings.operator, defaulted=False)
        agent = _resumed_agent(session.name, settings, _agent_flags(args), asked=args.operator,
                               console=console)
        if lanes.note:
            print(lanes.note, file=sys.stderr)
        if lanes.keep is not None:
            session.set_state(lane_count=lanes.keep, announce=False)
        if args.gpus is not None or args.workers is not None:
            session.set_state(announce=False, **placement)
        knowledge = configured_folders(_resumed_knowledge(session, settings, args.knowledge))
        if settings.operator != was:
            _switch_operator(session, was, settings.operator, console)
        pool = evaluation_pool(target, **placement, ray=args.ray, name=session.name)
    except BaseException:
        session.close()
        raise
    evaluator = Evaluator(target, pool, quick=settings.quick, timeout_s=settings.timeout_s,
                          sustained_s=settings.sustained_s)
    console.print(_resume_line(session, budgets,
                               describe_lanes(settings.operator, settings.lanes)))
    return PreparedRun(session, target, settings, budgets, pool, evaluator, agent, knowledge)


def again(prepared: PreparedRun, args: argparse.Namespace) -> str:
    """``prepared``, whose run has ended, made ready to run again in the same process as a
    resume would: its budgets counted afresh (``--max-steps`` counts the steps of the new
    run). Its settings, workers and knowledge are as the first run left them. Returns the
    resume's line."""
    prepared.budgets = _resumed_budgets(prepared.session, prepared.settings, args)
    return _resume_line(prepared.session, prepared.budgets,
                        describe_lanes(prepared.settings.operator, prepared.settings.lanes))


def _resumed_budgets(session: Session, settings: RunSettings,
                     args: argparse.Namespace) -> Budgets:
    """The budgets of a run that resumes ``session``: the session's, with the options'."""
    state = session.run_state
    kept = Budgets.from_doc(state.budgets or settings.budgets.to_doc())
    return _run_budgets(args, kept, int(state.usage_figure("steps")))


def _session_target(session: Session, asked: str | None) -> TargetSpec:
    """The target the session evolves (a target file as it was: session_target);
    ``--target`` naming another is refused."""
    if asked and is_target_file(asked):
        asked = resolve(asked)
    if asked and asked != session.meta.get("target"):
        raise StoreError(
            f"session '{session.name}' evolves {session.meta.get('target')}, not "
            f"{asked}; leave out --target to resume it"
        )
    return session_target(session.name, session.meta)


def _resumed_agent(
    name: str, settings: RunSettings, flags: dict[str, Any], asked: str | None,
    console: Console | None = None,
) -> AgentSettings | None:
    """The agent's settings for a resumed session (None for another operator). When the agent
    cannot run, the error says how to go on with the tuner: the command, not just a flag."""
    try:
        return _agent_settings(settings.operator, settings.agent, flags, console)
    except OperatorUnavailable as error:
        if asked:
            raise
        raise OperatorUnavailable(f"{sentence(str(error))} To go on with the tuner: avo run "
                                  f"--session {name} --operator tuner (the switch is kept for "
                                  "later runs)") from None


def _switch_operator(session: Session, was: str, now: str, console: Console) -> None:
    """Record that the session goes on with another variation operator, in its state (later
    runs keep it) and as an event."""
    session.set_state(operator=now, announce=False)
    session.append(OperatorPayload(was, now))
    console.print(f"operator switched from {was} to {now} (kept for later runs; avo run "
                  f"--session {session.name} --operator {was} switches back)")


def _resumed_knowledge(
    session: Session, settings: RunSettings, flags: list[Path] | None
) -> list[str]:
    """The session's --knowledge folders, plus those given now (kept for later resumes); a
    kept folder that has gone since is left out with a note."""
    kept = session.run_state.knowledge
    stored = list(kept) if kept is not None else list(settings.knowledge)
    added = [str(f) for f in flag_folders(flags or ())]
    folders = list(dict.fromkeys([*stored, *added]))
    if folders != stored:
        session.set_state(knowledge=folders, announce=False)
    for gone in [f for f in folders if not Path(f).is_dir()]:
        print(f"note: the knowledge folder {gone} is gone; the agent runs without it",
              file=sys.stderr)
    return [f for f in folders if Path(f).is_dir()]


def _placement(
    args: argparse.Namespace, session: Session, settings: RunSettings, target: TargetSpec
) -> dict[str, Any]:
    """Where a resumed run evaluates: --gpus and --workers as given now (checked; the caller
    keeps them in the state for later runs), else as the session last had them."""
    kept = session.run_state
    placement: dict[str, Any] = {
        "gpus": kept.gpus if kept.gpus is not None else settings.gpus,
        "workers": kept.workers if kept.workers is not None else settings.workers}
    given = {k: v for k, v in (("gpus", args.gpus), ("workers", args.workers)) if v is not None}
    if given:
        check_flags(target, args.gpus, args.workers, args.ray)
        placement |= given
    return placement


def worker_count(target: TargetSpec, *, gpus: str | None, workers: int | None,
                 ray: str | None) -> int | None:
    """How many evaluation workers a run has: one per GPU named, else --workers on the CPU
    target or under Ray, else one. None under Ray without --workers (one per GPU of the
    cluster, known once it is joined)."""
    if ray:
        return workers
    if gpus is not None:
        return len(visible_gpus()) if gpus == "all" else len(gpus.split(","))
    return (workers or 1) if target.device == "cpu" else 1


def _resume_line(session: Session, budgets: Budgets, operator: str) -> str:
    state = session.run_state
    at = f"at {state.head}" if state.head else f"with {NO_VERSION_YET}"
    return (
        f"resuming '{session.name}' {at} with the {operator}: step {state.step}, "
        f"{_duration(state.usage_figure('seconds'))} of running used, "
        f"{counted(len(state.pending_hints), 'pending hint')}"
        + (f", guidance: {state.guidance!r}" if state.guidance else "")
        + (f"; this run stops after {counted(budgets.run_steps, 'step')}" if budgets.run_steps
           else "")
        + (f"; the session's step budget is {budgets.max_steps}" if budgets.max_steps else "")
    )


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


# -- create -----------------------------------------------------------------------------------


def create(
    catalog: SessionCatalog, path: Path, args: argparse.Namespace, console: Console
) -> PreparedRun:
    """Create ``args.session`` at ``path``: what the options ask for is checked before any
    work, then the seed is scored and becomes v0. The workers are stopped if anything fails."""
    target = _new_target(catalog, args)
    budgets = _run_budgets(args, Budgets(), 0)
    operator = args.operator or default_operator(args.provider)
    seedless = not (target.seeds or args.seed or args.origin)  # the agent writes v0
    if seedless:
        _refuse_without_seed(target, operator, defaulted=not args.operator)
    check_lanes(args.lanes or len(operator_names(operator)),
                worker_count(target, gpus=args.gpus, workers=args.workers, ray=args.ray))
    agent = _agent_settings(operator, None, _agent_flags(args), console)  # fails before any work
    knowledge_flags = tuple(str(f) for f in flag_folders(args.knowledge or ()))
    folders = configured_folders(knowledge_flags)
    if not args.operator:
        console.print(operator_line(operator, agent_default(args.provider)))
    pool = evaluation_pool(target, gpus=args.gpus, workers=args.workers, ray=args.ray,
                           name=args.session)
    evaluator = Evaluator(target, pool, quick=args.quick, timeout_s=args.timeout,
                          sustained_s=args.sustained or 0.0)
    try:
        with pool.lease() as worker:
            check_target_file(target, worker)
        if seedless:
            console.print(NO_SEED_NOTE)
            settings = _new_settings(args, operator, budgets, agent, None, knowledge_flags)
            session = create_session(path, target, settings, None, evaluator)
        else:
            seed = _seed(catalog, target, args, evaluator.host)
            console.print(seed.note)
            settings = _new_settings(args, operator, budgets, agent, seed.origin,
                                     knowledge_flags)
            console.print(seed_twice_line(seed.files, target.name))
            session = create_session(
                path, target, settings, seed.files, evaluator,
                on_seed_result=lambda r: console.print(f"  seed: {escape(r.summary())}"),
                seed_note=seed.note,
            )
    except BaseException:
        pool.stop()
        raise
    console.print(f"created session '{session.name}' in {session.directory}")
    return PreparedRun(session, target, settings, budgets, pool, evaluator, agent, folders)


def operator_line(operator: str, agent: str | None) -> str:
    """The operator a new session got by default, and how to get the agent (``agent``: why
    it is the default, where it is)."""
    return (f"operator: {operator} (" + (agent or "no ANTHROPIC_API_KEY: set it, or give "
                                         "--operator agent with a key, to get the agent") + ")")


def seed_twice_line(files: Iterable[str], target: str) -> str:
    """Why the seed is scored twice (issue 87: a newcomer saw two scores and no word of why)."""
    return (f"scoring the seed ({', '.join(files)}) on {target} twice: the two readings are "
            "the commit gate's first measure of this machine's noise, and v0 keeps the faster "
            "...")


def _refuse_without_seed(target: TargetSpec, operator: str, *, defaulted: bool) -> None:
    """Refuse, in one line and before anything is written, a run whose operators cannot start
    from no version (launch.needs_a_seed); ``defaulted``: the operator was not asked for."""
    refusal = needs_a_seed(target, operator_names(operator))
    if refusal:
        raise StoreError(refusal + (" (the tuner is the default where no API key is set)"
                                    if defaulted else ""))


def _new_target(catalog: SessionCatalog, args: argparse.Namespace) -> TargetSpec:
    """The new session's target, once the options that place and seed it are checked and its
    folder can be made: nothing starts before."""
    if not args.target:
        raise StoreError(f"no session '{args.session}' yet: give --target to create it")
    target = get_target(args.target)
    check_flags(target, args.gpus, args.workers, args.ray)
    if args.origin and args.seed:
        raise StoreError("give --from or --seed, not both")
    if not args.origin and not args.seed and any(map(in_kernels_dir, target.seeds)):
        kernels_dir()  # the shipped seeds are there, before anything starts (chosen below)
    catalog.check_writable()  # a folder that cannot be, or be written, before the seed
    return target


def _new_settings(
    args: argparse.Namespace, operator: str, budgets: Budgets, agent: AgentSettings | None,
    origin: str | None, knowledge: tuple[str, ...],
) -> RunSettings:
    """A new session's settings: what the options say, kept for every later run."""
    return RunSettings(
        operator=operator,
        quick=args.quick,
        budgets=budgets,
        supervisor=SupervisorLimits(),
        noise_floor_pct=args.noise_floor,
        gate_cap_s=args.gate_cap,
        timeout_s=args.timeout,
        agent=agent.to_doc() if agent else None,
        origin=origin,
        knowledge=knowledge,
        lanes=args.lanes or len(operator_names(operator)),
        gpus=args.gpus,
        workers=args.workers,
        sustained_s=args.sustained or 0.0,
    )


@dataclass(frozen=True)
class _Seed:
    files: dict[str, str]
    note: str  # which seed and why, for the first screen and the session's first event
    origin: str | None = None  # --from's SESSION:VERSION


def _seed(catalog: SessionCatalog, target: TargetSpec, args: argparse.Namespace,
          host: Callable[[], Mapping[str, object]]) -> _Seed:
    """The seed: --seed PATH, --from SESSION[:VERSION] (default: its best), or the target's
    shipped seed for the GPU the evaluation worker runs on (``host``: its host facts)."""
    if args.seed:
        return _Seed(seed_files(target, args.seed), f"seed {args.seed} (--seed)")
    if not args.origin:
        choice = choose_seed(target, gpu_arch(target, host))
        return _Seed(choice.files, choice.note)
    name, _, ref = args.origin.partition(":")
    with catalog.open(name, writable=False) as source:
        version = source.version(ref) if ref else source.best() or source.version("head")
        files = source.read_files(version)
        source_target = source.meta.get("target")
        evolved_on = host_arch(source.meta.get("host", {}))
    origin = f"{name}:{version.id}"
    note = f"seeding from {origin} ({source_target}, {', '.join(files)})"
    here = gpu_arch(target, host)
    if evolved_on and here and evolved_on != here:
        note += (f"; it was evolved on {evolved_on} and this GPU is {here}: what was fast "
                 "there may not compile or be fast here")
    return _Seed(files, note, origin)


# -- the operator -----------------------------------------------------------------------------


def default_operator(provider: str | None = None) -> str:
    """The agent when an API key is set or another provider named (flag or settings file), else
    the tuner (it needs no network)."""
    return "agent" if agent_default(provider) else "tuner"


def _agent_settings(
    operator: str, stored: dict[str, Any] | None, flags: dict[str, Any],
    console: Console | None = None,
) -> AgentSettings | None:
    """The agent's settings: the session's (or the settings file's for a new session), with
    the flags given; checks that the API answers, takes the key and accepts the settings
    (before a new session's seed is scored). None for other operators."""
    if "agent" not in operator_names(operator):
        return None
    if stored:
        # The flags join the stored settings before they are checked, so a flag can mend a
        # session whose settings the model table now refuses (e.g. --effort none).
        given = {k: v for k, v in flags.items() if v is not None}
        settings = AgentSettings.from_doc({**stored, **given})
    else:
        settings = load_settings().override(**flags)
    from ..operators.agent.preflight import check_api  # loads anthropic: only when it runs

    check_api(settings, say=(lambda line: console.print(escape(line))) if console else None)
    if settings.price() is None:
        print(f"note: no price is known for {settings.model}, so its cost is not counted; add "
              f'[agent.pricing."{settings.model}"] to the settings file', file=sys.stderr)
    return settings
