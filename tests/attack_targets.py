"""Every target the attack tests run on (tests/adversarial/test_attacks_every_target.py for the
C ones, tests/gpu/test_gpu_attacks_every_target.py for the CUDA ones), each with its own seed:

- the targets only tests define: the docs' example (tests/target_example.py, a target file
  taken from docs/targets.md) and the vector add of tests/unit/test_targets_problem.py (a problem
  behind the seam with no file, which only a pipeline in this process can evaluate);
- every target file shipped in the repository's targets/ folder (the attention targets among
  them), found there, so that a new one joins the tests without an edit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import test_targets_problem
from attack_kernels import c_sources, cuda_sources
from target_example import SEED_FILE, write_example

from avo_tui.engine.launch import choose_seed
from avo_tui.evaluation.declarations.candidate import load_sources
from avo_tui.evaluation.targets.file import get_target
from avo_tui.evaluation.targets.problem import output_params
from avo_tui.evaluation.targets.spec import TargetFileUnusable, TargetSpec, known_names

REPO = Path(__file__).parents[1]
SHIPPED = REPO / "targets"
DOCS_EXAMPLE = "docs-example"
VECTOR_ADD = "vector-add"
# The seed a cheat wraps on a GPU target that ships several: the one chosen on every GPU from
# sm_80 on. The Hopper seed gives its producer warps' registers away (setmaxnreg) and lets them
# return early; the cheats' code after a seed's body runs in every thread.
PORTABLE_ARCH = "sm_80"


@dataclass(frozen=True)
class AttackTarget:
    name: str  # as the tests are named
    spec: TargetSpec
    seed: dict[str, str]  # the seed's files, its knobs applied
    main: str  # the file among them that defines the entry point
    in_process: bool = False  # only a Pipeline in this process can evaluate it

    @property
    def ref(self) -> str:
        return self.spec.ref

    def sources(self, attack: str) -> dict[str, str]:
        """The attack's kernel around this target's seed."""
        make = c_sources if self.spec.toolchain == "c" else cuda_sources
        return make(self.spec, self.seed, self.main, attack)


def shipped_files(folder: Path = SHIPPED) -> tuple[Path, ...]:
    """The target files in ``folder`` or a folder of it (a file that loads as a target file;
    a helper module beside one does not), if any."""
    if not folder.is_dir():
        return ()
    return tuple(sorted(p for p in (*folder.glob("*.py"), *folder.glob("*/*.py"))
                        if _declares_a_target(p)))


def _declares_a_target(path: Path) -> bool:
    """Whether the file at ``path`` loads as a target file: ``target = Target(...)``, or one
    built on another's (rmsnorm_cpu.py: ``dataclasses.replace(declared_target(...))``)."""
    try:
        get_target(str(path))
    except TargetFileUnusable:
        return False
    return True


def target_names(kind: str, folder: Path = SHIPPED) -> list[str]:
    """The targets of ``kind`` ("cpu" or "cuda") that ship a seed (every attack is an edit of
    it; a target without one has nothing to attack) and have one output (the cheats of
    attack_kernels.py wrap one output buffer; attention's backward writes three, dq, dk and dv,
    and is not attacked here yet) by the names
    the tests take: a shipped target's name (a file of the registry's folder, in the order avo
    lists them), the path of a file elsewhere (from the repository's root)."""
    extra = [DOCS_EXAMPLE, VECTOR_ADD] if kind == "cpu" else []
    named, paths = [], []
    for path in shipped_files(folder):
        spec = get_target(str(path))
        if spec.device != kind or not spec.seeds or len(output_params(spec.problem)) != 1:
            continue
        if path.parent == SHIPPED:
            named.append(spec.name)
        else:
            paths.append(str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path))
    return sorted(named, key=known_names().index) + extra + paths


def attack_target(name: str, scratch: Path | None = None) -> AttackTarget:
    """The target ``name`` (of target_names) with its seed; ``scratch`` a folder outside the
    checkout, for the docs' example."""
    if name == VECTOR_ADD:
        return AttackTarget(name, test_targets_problem.SPEC, {"add.c": test_targets_problem.HONEST},
                            "add.c", in_process=True)
    if name == DOCS_EXAMPLE:
        assert scratch is not None, "the docs' example is written to a folder outside the checkout"
        path = write_example(scratch / "docs-example")
        spec = get_target(str(path))
        return AttackTarget(name, spec, load_sources(path.parent / SEED_FILE, "c"), SEED_FILE)
    spec = get_target(str(REPO / name) if name.endswith(".py") else name)
    choice = choose_seed(spec, PORTABLE_ARCH if spec.device == "cuda" else None)
    return AttackTarget(name, spec, choice.files, choice.path.name)
