"""Building a candidate: its declarations read, its sources compiled and the artifact loaded on
the device, and what the kernel is (identify); the incumbent, the best version, likewise."""

from __future__ import annotations

from collections.abc import Mapping

from .declarations import contract
from .declarations.contract import Declarations, MissingEntry
from .devices.cpu import KernelFailed
from .devices.device import Kernel
from .measurement.judge import Rejected
from .measurement.stage import Stage
from .results import kernel_identity
from .targets.problem import Config
from .targets.spec import TargetSpec
from .targets.torch_dtypes import DTYPES
from .toolchains import ArtifactTampered, CompileResult, ToolchainUnavailable, get_toolchain
from .toolchains.base import define_options, read_artifact


class Build(Stage):
    """The stages that build the candidate and the incumbent."""

    def declarations(self, sources: Mapping[str, str]) -> Declarations:
        """Parse every file's declarations into one set; check the requirements."""
        knobs: list[contract.Knob] = []
        requires: list[tuple[int, str]] = []
        launch: dict[str, str] = {}
        defines: dict[str, str] = {}
        for name, text in sources.items():
            try:
                declared = contract.parse(text)
                declared.check_requirements(self.target.defines)
            except contract.ContractError as error:
                raise Rejected("contract", f"{name}: {error}") from None
            knobs += declared.knobs
            requires += declared.requires
            launch |= declared.launch
            defines |= declared.defines
        merged = Declarations(tuple(knobs), tuple(requires), launch, defines)
        self.check_tensormaps(merged)
        return merged

    def check_tensormaps(self, declared: Declarations) -> None:
        """Every avo:tensormap fits its tensor (tensormap_boxes), refused here, before anything
        needs a GPU."""
        if not declared.tensormaps:
            return
        try:
            tensormap_boxes(declared, self.target, self.target.grid(self.request.quick)[0])
        except contract.ContractError as error:
            raise Rejected("contract", str(error)) from None

    def compile(self, sources: Mapping[str, str]) -> CompileResult:
        self.progress("compile", ", ".join(sources))
        try:
            toolchain = get_toolchain(self.target.toolchain, self.cache, self.device.arch)
            return toolchain.compile(sources,
                                     define_options(self.target.defines) + self.request.options)
        except ToolchainUnavailable as error:
            raise Rejected("toolchain", str(error)) from None

    def load(self, compiled: CompileResult, declared: Declarations, loaded: list[Kernel]) -> Kernel:
        if not compiled.ok or compiled.artifact is None:
            raise Rejected("compile", compiled.summary().removeprefix("compile failed: "))
        try:
            artifact = read_artifact(compiled)
            defines = dict(self.target.defines)
            kernel = self.device.load(artifact, self.target.entry, declared, defines,
                                      self.target.problem)
        except ArtifactTampered as error:
            raise Rejected(
                "internal", f"the compiled kernel changed before loading: {error}"
            ) from None
        except MissingEntry as error:
            raise Rejected("entry", str(error)) from None
        except contract.ContractError as error:
            raise Rejected("contract", str(error)) from None
        except KernelFailed as failed:  # in its constructors, or past the time to load
            raise Rejected(failed.kind, str(failed)) from None
        except OSError as error:
            raise Rejected("entry", f"cannot load the compiled kernel: {error}") from None
        loaded.append(kernel)
        if "registers" not in compiled.resources and hasattr(kernel, "resources"):
            compiled.resources.update(kernel.resources())
        return kernel

    def identify(self, compiled: CompileResult, kernel: Kernel) -> str:
        """What the kernel is, for deciding whether two sources are one kernel: the compiled
        code and how it is launched on every timed configuration. Comments, layout, unused
        macros and renamed locals change neither."""
        launches = []
        for config in self.target.grid(self.request.quick):
            try:
                launches.append(kernel.signature(config))
            except contract.ContractError as error:  # geometry that fails on this config
                raise Rejected("contract", str(error), config.name) from None
        return kernel_identity(compiled.artifact_sha256, launches)

    def build_incumbent(self, loaded: list[Kernel]) -> Kernel | None:
        """The best version, to time beside the candidate; None when there is none, when the
        candidate is the very same kernel (``same_as_incumbent``: nothing is timed), or when
        it no longer builds here (the gate then falls back to its stored score)."""
        sources = self.request.incumbent
        if sources is None:
            return None
        try:
            compiled = self.compile(sources)
            incumbent = self.load(compiled, self.declarations(sources), loaded)
            self.result.incumbent_kernel_id = self.identify(compiled, incumbent)
        except Rejected as rejected:
            self.progress("incumbent", f"not timed: {rejected.failure}")
            return None
        if self.result.incumbent_kernel_id == self.result.kernel_id:
            self.result.same_as_incumbent = True
            return None
        self.incumbent = incumbent
        return incumbent


def tensormap_boxes(declared: Declarations, target: TargetSpec, config: Config
                    ) -> dict[str, tuple[int, ...]]:
    """Each avo:tensormap's box, by the map's name: the map names one of the entry point's
    tensors, and its box fits that tensor on ``config`` (its rank and element size) and the
    TMA unit. (The harness checks each box again against each launch's own tensor.)"""
    tensors = {p.name: p for p in target.problem.parameters if p.is_tensor}
    env = declared.environment(target.defines)
    boxes = {}
    for tensormap in declared.tensormaps:
        tensor = tensors.get(tensormap.tensor)
        if tensor is None:
            raise contract.ContractError(
                f"avo:tensormap {tensormap.name}: tensor={tensormap.tensor} is not one of the "
                f"entry point's tensors ({', '.join(tensors)})")
        boxes[tensormap.name] = tensormap.box_shape(
            env, DTYPES[tensor.dtype_on(config)].itemsize, len(tensor.shape_on(config)))
    return boxes
