"""Why a target's reference is not finite, in one line a user can act on: the input whose values
make it so, found by drawing that input by another rule and running the reference again, and
the ``values=`` rule (values.py) that input should be given. Asked only once a reference was
seen not finite (avo targets check, the judge): it runs the reference a few times more."""

from __future__ import annotations

import torch

from ..targets.api import TargetFileError
from ..targets.problem import Config, Param, case_inputs, derive_inputs
from ..targets.values import FromFile, Integers, Positive, Uniform, ValueRule
from .tensors import apply_case, fill, make_inputs, output_dtype

# The rules tried on each drawn input, in order, as a target file writes them. A reference that
# is not finite most often takes a log, a square root or a reciprocal of an input drawn
# negative (a variance drawn standard normal), or an arcsine of one outside [-1, 1].
REMEDIES: tuple[tuple[str, ValueRule], ...] = (
    ("Positive()", Positive()),
    ("Uniform(-1.0, 1.0)", Uniform(-1.0, 1.0)),
    ("Uniform(0.0, 1.0)", Uniform(0.0, 1.0)),
)
DRAWS = 3  # draws of the inputs, each under its own seed, before a cause is given up on


def not_finite(config: Config, case: str, device: str, output: str | None) -> TargetFileError:
    """The error that says the reference (of ``output``, where there are several) is not finite
    on ``config`` under ``case``, and what makes it so."""
    named = f" ({output})" if output else ""
    return TargetFileError(f"the reference{named} is not finite on {config.name} "
                           f"({case_inputs(case)}): {_cause(config, case, device, output)}")


def _cause(config: Config, case: str, device: str, output: str | None) -> str:
    drawn = [p for p in config.problem.parameters if p.kind == "input" and _redrawable(p, config)]
    rules = "; ".join(f"{p.name} {_words(p.values)}" for p in drawn) or "none drawn"
    seeds = [seed for seed in range(DRAWS) if not _finite(config, case, device, output, {}, seed)]
    if not seeds:
        return (f"only some draws of its inputs make it so ({rules}): give values= rules "
                "(Positive(...), Uniform(...)) under which it is finite on every draw")
    seed = seeds[0]
    if case != "normal" and _finite(config, "normal", device, output, {}, seed):
        return (f"it is finite on {case_inputs('normal')}: the input case {case!r} makes it "
                "so; a case must leave the reference finite (cases=)")
    for param in drawn:
        for code, remedy in REMEDIES:
            if remedy != param.values and _finite(config, case, device, output,
                                                  {param.name: remedy}, seed):
                return (f"{param.name} makes it so, drawn {_words(param.values)}; drawn "
                        f"{remedy.words()} instead, the reference is finite: give "
                        f'Input("{param.name}", ..., values={code})')
    if len(drawn) > 1 and _finite(config, case, device, output,
                                  {p.name: Positive() for p in drawn}, seed):
        return (f"it is finite once every input is drawn positive ({rules}): give "
                "values=Positive() to each input a log, a square root or a reciprocal takes")
    return (f"no input drawn by another rule makes it finite ({rules}): mend the reference, or "
            "give the inputs values= rules (Positive(...), Uniform(...)) under which it is")


def _redrawable(param: Param, config: Config) -> bool:
    """An input whose values another rule could draw: a floating one, not given."""
    if isinstance(param.values, FromFile | Integers):
        return False
    return param.dtype_on(config).startswith(("float", "bfloat"))


def _words(rule: ValueRule | None) -> str:
    return "standard normal" if rule is None else rule.words()


def _finite(config: Config, case: str, device: str, output: str | None,
            rules: dict[str, ValueRule], seed: int) -> bool:
    """Whether the reference is finite on inputs drawn under ``seed``, by ``rules`` where they
    name an input; a reference that raises on them is not. An input drawn by another rule is
    drawn from a generator of its own: the others keep the very values they had."""
    def generator(offset: int = 0) -> torch.Generator:
        return torch.Generator(device=device).manual_seed(seed * 1009 + offset)

    try:
        inputs = make_inputs(config, generator(), device)
        for offset, (name, rule) in enumerate(rules.items(), start=1):
            fill(inputs[name], rule, generator(offset))
            inputs.rules[name] = rule
        apply_case(config, inputs, generator(), case)
        derive_inputs(config, inputs)
        exact, _ = config.problem.numerics().references(config, inputs,
                                                        output_dtype(config, output),
                                                        output=output)
    except Exception:  # the user's code, on inputs it was not written for
        return False
    return bool(torch.isfinite(exact).all())
