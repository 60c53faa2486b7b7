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
        return Declarations(tuple(knobs), tuple(requires), launch, defines)

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
