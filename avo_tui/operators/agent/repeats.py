"""Is an idea a repeat of one tried before? A deterministic check by meaning, costing no call.

Shared words alone miss a repeat in other words ("skip the accumulator rescale when the row
max is unchanged" and "lazy rescaling: only correct O when the running maximum grows" share
one word) and merge two experiments that differ by one number ("BLOCK_N 176" and "BLOCK_N
192"). So each idea is read as the *concepts* of kernel optimisation it names: the domain's
phrases and synonyms map to one term each (skip, defer and lazy; the row max and the running
maximum; O and the accumulator), and its *settings*, each knob or parameter with its value, are
read apart. Two ideas are one experiment when their concepts mostly agree (Dice's coefficient,
SAME or more) and nothing tells them apart: a knob set to two values, two different numbers,
or two sides of one choice (inner or outer, K or V, load or store). The agent, which reads
the direction and its lessons, is the judge of what the check flags (docs/agent.md says why no
model is asked); the pair set in tests/fixtures/repeat_pairs.json measures it
(benchmarks/repeat_detection.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from . import changes, vocabulary

CONTAINED = 0.8  # the likeness of an idea all of whose (two or more) concepts another names
SAME = 0.6  # Dice's coefficient of two ideas' concepts from which they are one experiment

# Phrases first (longest meaning wins), then single words; each maps to its concept.
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"running (?:row )?max(?:imum)?|row[-_ ]?max(?:imum)?|max(?:imum)? of the row|m_i",
     "rowmax"),
    (r"row[-_ ]?sums?|running sum", "rowsum"),
    (r"ping[- ]?pong(?:ing)?|alternat\w*(?= (?:the )?(?:2 )?(?:consumer )?warp ?groups?)",
     "pingpong"),
    (r"warp[- ]speciali[sz]\w*", "warpspec"),
    (r"overlap (?:the )?loads? of the next|load the next \w+ (?:tile )?early", "prefetch"),
    # Only "next" is read: the operand after it stays ("the next K tile early": K).
    (r"next(?= (?:\w+ )?tiles? (?:early|ahead)\b)", "prefetch"),
    (r"mean square", "rms"),
    (r"p ?@ ?v|p ?v\b", "pv"),
    (r"q ?@ ?k(?:\^?t)?|qk\^?t", "qk"),
    (r"tensor memory accelerator|cp\.async\.bulk(?:\.tensor)?|bulk (?:async |tensor )*cop(?:y|ies)",
     "tma"),
    (r"longest[- ]processing[- ]time|(?:heaviest|largest|longest) (?:\w+ )?(?:tiles? )?first",
     "lpt"),
    (r"split[- ]?k\b|split[- ]?kv|flash[- ]decod\w*|split the (?:kv|k)(?: reduction)?", "splitk"),
    (r"1 cta per sm|grid[- ]stride over (?:the )?tiles|persistent", "persistent"),
    (r"mufu\.ex2|expf|ex2\.approx|exp2f?|base[- ]2 exp\w*|log2e?", "exp2"),
    (r"(?:1|one)[- ]pass (?:mean and )?variance|single[- ]pass (?:mean and )?variance|welford",
     "welford"),
    (r"128[- ]bit (?:loads?|stores?|accesses)|u?int4|float4|ldg\.128|vectori[sz]\w*|wide (?:loads?|"
     r"accesses)", "vector"),
    (r"bank conflicts?|xor (?:swizzle|layout)|swizzl\w*", "swizzle"),
    (r"(?:double|2)[- ]buffer\w*|multi[- ]stage|software pipelin\w*|pipelin\w*|stages?|num_stages",
     "stages"),
    (r"register (?:pressure|budget|count)|setmaxnreg|maxnreg|launch_bounds|spills?", "registers"),
    (r"shared[- ]memory|smem", "smem"),
    # One layout named by either of its properties: V transposed is V K-major (column-major).
    (r"(?:k|column|col)[- ]major|trans(?:posed?)?(?: bit)?", "transpose"),
    (r"(?:row|mn)[- ]major", "rowmajor"),
    (r"tensor[- ]cores?|wgmma|mma\.sync|mma", "mma"),
    (r"fus(?:e|ed|es|ing|ion)|single kernel|1 kernel|(?:1|one)[- ]pass|single pass", "fuse"),
    (r"(?:the )?o accumulator|output accumulator|acc\b|accumulators?|\bo\b", "acc"),
)
_WORDS: dict[str, str] = {
    "lazy": "lazy", "lazily": "lazy", "skip": "lazy", "skipping": "lazy", "defer": "lazy",
    "deferred": "lazy", "deferring": "lazy", "only": "lazy", "elide": "lazy", "avoid": "lazy",
    "conditional": "lazy", "conditionally": "lazy", "unless": "lazy", "threshold": "lazy",
    "rescale": "rescale", "rescaling": "rescale", "rescaled": "rescale", "correct": "rescale",
    "correction": "rescale", "renormalise": "rescale", "renormalize": "rescale",
    "unchanged": "change", "grows": "change", "increases": "change", "changes": "change",
    "moves": "change", "rises": "change",
    "tile": "tile", "tiles": "tile", "block": "tile", "blocks": "tile",
    "causal": "causal", "masked": "causal", "mask": "causal", "triangular": "causal",
    "diagonal": "causal",
    "order": "order", "ordering": "order", "schedule": "order", "scheduler": "order",
    "scheduling": "order", "sort": "order", "sorted": "order",
    "unroll": "unroll", "unrolled": "unroll", "unrolling": "unroll",
    "prefetch": "prefetch", "prefetching": "prefetch", "preload": "prefetch",
    "polynomial": "poly", "poly": "poly", "cubic": "poly", "emulate": "poly", "emulated": "poly",
    "emulation": "poly", "ffma": "fma", "fma": "fma", "producer": "warpspec",
    "multiply": "muldiv", "multiplying": "muldiv", "divide": "muldiv", "dividing": "muldiv",
    "division": "muldiv", "num_warps": "warp", "num_wg": "warpgroup", "num_stages": "stages",
    "cta": "cta", "ctas": "cta",
    "dynamic": "dynamic", "dynamically": "dynamic", "static": "static",
    "statically": "static", "ex2": "exp2", "softmax": "softmax", "exponent": "exp2",
    "exponential": "exp2", "exp": "exp2",
    "epilogue": "epilogue", "writeback": "store", "store": "store", "stores": "store",
    "write": "store", "writes": "store",
    "load": "load", "loads": "load", "read": "load", "reads": "load", "fetch": "load",
    "reduction": "reduce", "reduce": "reduce", "reductions": "reduce", "sum": "sum",
    "shuffle": "shuffle", "shfl": "shuffle", "shuffles": "shuffle",
    "warp": "warp", "warps": "warp", "warpgroup": "warpgroup", "warpgroups": "warpgroup",
    "cluster": "cluster", "clusters": "cluster", "multicast": "multicast",
    "transpose": "transpose", "transposed": "transpose", "layout": "layout",
    "barrier": "barrier", "barriers": "barrier", "syncthreads": "barrier", "sync": "barrier",
    "mbarrier": "mbarrier", "fence": "fence", "fences": "fence",
    "overlap": "overlap", "overlapping": "overlap", "overlaps": "overlap", "hide": "overlap",
    "hiding": "overlap", "concurrently": "overlap",
    "fp8": "fp8", "e4m3": "fp8", "fp16": "fp16", "half": "fp16", "bf16": "bf16",
    "fp32": "fp32", "float": "fp32", "tf32": "tf32",
    "variance": "variance", "mean": "mean", "rms": "rms", "rmsnorm": "rms", "layernorm": "ln",
    "gamma": "weight", "weight": "weight", "weights": "weight",
    "rsqrt": "rsqrt", "sqrt": "rsqrt", "reciprocal": "muldiv",
    "gemm": "mma", "gemms": "mma", "matmul": "mma", "qk": "qk", "pv": "pv",
    "l2": "l2", "cache": "cache", "caching": "cache", "cached": "cache",
    "atomic": "atomic", "atomics": "atomic", "atomicadd": "atomic",
    "inner": "inner", "outer": "outer", "row": "row", "rows": "row", "column": "column",
    "columns": "column", "head": "head", "heads": "head",
    "q": "q", "k": "k", "v": "v", "tail": "tail", "remainder": "tail",
    "o": "acc", "output": "acc", "accumulation": "acc", "accumulate": "acc", "update": "acc",
    "buffer": "stages", "buffering": "stages", "buffered": "stages", "ring": "stages",
    "depth": "stages", "deep": "stages", "split": "splitk",
    "splits": "splitk", "padding": "pad", "padded": "pad", "fold": "fold", "folded": "fold",
    "multiplied": "fold", "premultiplied": "fold", "premultiply": "fold", "lightest": "spt",
    "shortest": "spt", "spilling": "registers", "spill": "registers", "register": "registers",
    "registers": "registers", "regs": "registers", "reg": "registers",
    "ld": "load", "ldg": "load", "st": "store", "stg": "store",
}
# Words that say nothing of what a candidate computes.
_STOP = frozenset(re.findall(r"\w+", """
    a an and the of to in on for with by from at as is it its this that be or not no again
    measured same try retry keep use using more less than then instead when so into per each
    all one two every via over under up down out we our instead rather just both
    kernel loop step idea shapes shape path version new old cost time faster speed
    compute computing switch run runs does do issue issues set once other while next across
    units unit dedicated make tile tiles grid cta ctas apply inside separate based during
    early current factor product precision pre ways way stop stops replace number instead
    so rather s are was were been being ones neither nor wholly fully entirely completely
    whose which where there here their them they such also between
    let lets experiment has have had can may might could should would will nothing
    slower speedup expect expected expecting hope hoping maybe probably likely because since
    note us ms ns gb tb tflop tflops gflops percent"""))
# Which way an idea moves what it changes, on each of four axes: two ideas that move it
# opposite ways on one axis are two experiments, however alike their words ("increase" and
# "reduce the pipeline stages"; a check moved into a loop or out of it; a barrier added or
# removed; every block or only some).
_DIRECTIONS: dict[str, str] = {
    **dict.fromkeys(re.findall(r"\w+", """increase increasing raise raising more higher
        larger bigger grow widen wider deeper lengthen extend"""), "up"),
    **dict.fromkeys(re.findall(r"\w+", """reduce reducing decrease decreasing lower lowering
        fewer less smaller shrink narrow narrower shallower cut shorten"""), "down"),
    **dict.fromkeys(re.findall(r"\w+", """into inside sink sinking sunk"""), "in"),
    **dict.fromkeys(re.findall(r"\w+", """out outside hoist hoisting hoisted"""), "out"),
    **dict.fromkeys(re.findall(r"\w+", """add adding added enable enabling enabled insert
        inserting introduce"""), "on"),
    **dict.fromkeys(re.findall(r"\w+", """remove removing removed disable disabling disabled
        off delete deleting eliminate eliminating omit omitting"""), "off"),
    # Said in passing ("drop the wait"): opposite to "on", yet no default for the other.
    **dict.fromkeys(re.findall(r"\w+", """drop dropping dropped avoid avoiding without skip
        skipping skipped skips"""), "off~"),
    **dict.fromkeys(re.findall(r"\w+", """every all always each"""), "all"),
    **dict.fromkeys(re.findall(r"\w+", """only solely just elected single"""), "some"),
}
_CONDITIONS = frozenset({"when", "whenever", "unless", "if", "while", "once"})
_AXES: tuple[frozenset[str], ...] = (frozenset({"up", "down"}), frozenset({"in", "out"}),
                                      frozenset({"on", "off", "off~"}),
                                      frozenset({"all", "some"}))
# On these axes an idea that says nothing takes the first side: "ping-pong the consumer
# warpgroups" turns it on, as against "turn off ping-pong"; "a barrier before the PV wgmma"
# adds one, as against "without the barrier".
_UNSAID = {frozenset({"on", "off", "off~"}): "on"}
# Two sides of one choice: ideas that name different members are different experiments.
_SIDES: tuple[frozenset[str], ...] = (
    frozenset({"inner", "outer"}), frozenset({"row", "column"}), frozenset({"load", "store"}),
    frozenset({"fp8", "fp16", "bf16", "fp32", "tf32"}),
    frozenset({"qk", "pv"}), frozenset({"warp", "warpgroup", "cluster"}),
    frozenset({"block_m", "block_n", "block_k", "block_d"}),
    frozenset({"poly", "mufu"}), frozenset({"rms", "ln"}), frozenset({"rowsum", "rowmax"}),
    frozenset({"smem", "l2", "registers"}), frozenset({"causal", "full"}),
    frozenset({"q", "k", "v", "acc", "rowsum"}), frozenset({"rowmax", "rowsum"}),
    frozenset({"lpt", "spt"}), frozenset({"before", "after"}),
    frozenset({"dynamic", "static"}), frozenset({"transpose", "rowmajor"}),
    frozenset({"bias", "gelu", "relu", "silu", "residual", "ln", "rms", "dropout", "softmax"}),
)
_NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                 "eight": "8", "sixteen": "16", "double": "2", "twice": "2", "triple": "3"}
# (not "one" as a pronoun: "one's softmax under the other's GEMMs")
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(_NUMBER_WORDS) + r")\b(?!'s| another| of the)")
_KNOB = re.compile(r"\b([a-z][a-z0-9_]*_[a-z0-9_]+|[a-z]+)\s*(?:=|:|\bto\b|\bof\b)?\s*"
                   r"(\d+(?:\.\d+)?(?:x\d+)*)\b")
_VALUE_FIRST = re.compile(r"\b(\d+(?:\.\d+)?)[- ]?(?:[a-z]+[- ])?(stages?|warps?|warpgroups?|ctas?|"
                          r"threads?|registers?|regs|buffers?|splits?|way)\b")
_COUNTED = frozenset({"stage", "warp", "warpgroup", "cta", "thread", "register", "reg",
                      "buffer", "split"})
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?(?:x\d+)*\b")
_OPERANDS = frozenset("qkvops")  # the matrices a one-letter word names
_INDEX = 8  # the largest number read as an item's index (warpgroup 2, barrier 1)
_TOKEN = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")
_KNOWN = frozenset(_WORDS.values()) | {c for _, c in _PHRASES}  # the domain's concepts
_NAMED = _KNOWN.union(*_SIDES)  # the words the tables name as they are (before, after)
_PHRASE_RES = tuple((re.compile(rf"(?<![\w.])(?:{p})(?![\w])"), c) for p, c in _PHRASES)


# Rewordings of one setting or operand, read as their plain form before anything else: a
# key tile's width is BLOCK_N, a query tile's height BLOCK_M; "4x", "64B" and "4-way" are
# numbers; P.V is PV.
_Rewrite = str | Callable[[re.Match[str]], str]
_REWRITES: tuple[tuple[re.Pattern[str], _Rewrite], ...] = tuple((re.compile(p), r) for p, r in (
    (r"\b(\d+)[- ]wide (?:key|kv) tiles?\b", r"block_n \1"),
    # The operand stays beside the knob: the Q tile is not the V tile.
    (r"\bkey tiles?(?: width)?\b", "block_n k"),
    (r"\bkv tiles?(?: width)?\b", "block_n"),
    (r"\b(\d+)[- ](?:row|tall) (?:query|q) tiles?\b", r"block_m \1"),
    (r"\b(?:query|q) tiles?(?: height)?\b", "block_m q"),
    (r"\btile height\b|\brows per tile\b", "block_m"),
    (r"\b(\d+)(?:x|b|[- ]?ways?|[- ]?fold)(?![\w.])", r"\1"),
    (r"\bp ?[.·@*] ?v\b", "pv"),
    (r"\bq ?[.·@*] ?k(?:\^?t)?\b", "qk"),
    (r"\blog2 ?\( ?e ?\)", "log2e"),
    (r"\b_+([a-z][a-z0-9_]*?)_+(?=\W|$)", r"\1"),  # __launch_bounds__: launch_bounds
    (r"fused multiply[- ]add|fma[- ]contract\w*", "fma"),
    (r"\bwarp[- ]groups?\b", "warpgroup"),
    (r"\bwarpgroup[- ](?:level )?mma\b", "wgmma"),
    (r"\bshared mem\b", "smem"),
    (r"\bregister file\b|\brf\b", "registers"),
    (r"\bbar(?:rier)?\.(?:sync|arrive|red)\w*", "barrier"),  # PTX's named barriers
    (r"\b((?:ld|st)(?:\.\w+)*\.v[248])\b", r"\1 vector"),  # ld.global.v4: a vector load
    # PTX: an instruction with or without its state-space qualifiers is one instruction.
    (r"((?:\w+\.)+\w+)\.shared(?:::(?:cta|cluster))?\b", r"\1"),
    (r"(?<=\w)\.(?:[bsuf](?:8|16|32|64)|f16x2|bf16x2)\b", ""),  # a PTX type: .b64, .f32
    (r"\bmufu\.ex2\b|\bex2\.approx(?:\.f32)?\b", "mufu exp2"),
    (r"\b_*shfl\w*", "shuffle"),
    (r"\b(\d+(?:\.\d+)?)f\b", r"\1"),  # a C float literal: 8.0f is 8.0
    (r"\b(\d+)\.0+\b", r"\1"),  # 8.0 is 8
    # Where in a loop: "in the persistent loop" is inside it, as against "out of" it.
    (r"\b(?:in|within) (?:the |each |every )?(?:\w+ )?loop\b", "inside loop"),
    # The value left behind is not the experiment: "4 warpgroups instead of 3" sets 4.
    (r"\binstead of \d+\b|\bfrom \d+(?= to\b)", ""),
    # Units: 128 bits are 16 bytes, 16 KB are 16384.
    (r"\b(\d+)[- ]?bits?\b", lambda m: str(int(m.group(1)) // 8)),
    (r"\b(\d+)[- ]?ki?b\b", lambda m: str(int(m.group(1)) * 1024)),
    (r"\b(\d+)[- ]?bytes?\b", r"\1"),
    # Not doing a thing is skipping it: "don't compute the masked blocks", "never copied".
    (r"\b(?:don'?t|do not|never|no longer)\b", "skip"),
    (r"\bkey[- ]blocks?\b", "kv block"),  # the blocks along the keys: the KV loop's blocks
    # "Reduce" a measure is to lower it (reduce the register pressure), not a reduction.
    (r"\breduc(?:e|es|ed|ing)\b(?= (?:the |its |their )?(?:\w+ ){0,2}(?:pressure|count|"
     r"number|size|usage|footprint|traffic|latency|spills?|stages?|occupancy)\b)", "lower"),
))
# An identifier in camel case is one in snake case (numWarps: num_warps), without the "k"
# that marks a constant (kStages: stages).
_CAMEL = ((re.compile(r"\bk(?=[A-Z][a-z])"), ""),
          (re.compile(r"\b([a-z]+(?:[A-Z][a-z0-9]*)+)\b"),
           lambda m: re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", m.group(1))))
# A knob in capitals set to 0 or 1 is a switch turned off or on (PINGPONG=1): that says which
# way, not a number to tell two ideas apart by (its setting still does, settings()).
_MEASURED = re.compile(r"\b\d+(?:\.\d+)?(?:x\d+)* ?(?:%|percent\b|[uµmn]s\b|(?:[gt]b|[gt]flops?)"
                       r"(?:/s|ps)\b|[gt]flops\b)")
_SWITCHED = ("switched_off", "switched_on")
_SWITCH = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*) ?[=:]? ?([01])(?![\w.])")


def _plain(text: str, *, switches: bool = False) -> str:
    """``text`` in one writing: lower case, numbers and units in one form, rewordings of a
    setting read as it; with ``switches``, a knob set to 0 or 1 read as off or on."""
    for pattern, written in _CAMEL:
        text = pattern.sub(written, text)
    if switches:
        text = _SWITCH.sub(lambda m: f"{m.group(1)} {_SWITCHED[int(m.group(2))]}", text)
    text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(0)],
                            " ".join(text.lower().replace("×", "x").split()))
    text = vocabulary.constants(text)  # a constant by its name or by its value: one value
    for pattern, plain in _REWRITES:
        text = pattern.sub(plain, text)
    return text


def concepts(text: str) -> frozenset[str]:
    """What ``text`` names: the domain's concepts, its other words, its knob names and the
    concepts their parts name (O_STORE_TMA names the store and TMA too)."""
    named, identifiers = _read(text)
    return named.union(*(parts for _, parts in identifiers))


@lru_cache(maxsize=8_192)
def _read(text: str) -> tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]:
    """What ``text`` names by its phrases and whole words, and each identifier it names with
    the concepts of its parts."""
    text = _plain(text)
    found: set[str] = set()
    identifiers: list[tuple[str, frozenset[str]]] = []
    for pattern, concept in _PHRASE_RES:
        if pattern.search(text):
            found.add(concept)
            text = pattern.sub(" ", text)
    for word in _TOKEN.findall(text):
        if word in _STOP or (word in _DIRECTIONS and word not in _WORDS) or _NUMBER.fullmatch(
                word):
            continue
        if len(word) == 1 and word not in _OPERANDS:
            continue  # an index (tile i, S(j)) or a variable (x), not what is changed
        found.add(_concept(word))
        parts = frozenset(_parts(word) - _STOP)
        if parts:
            identifiers.append((_concept(word), parts))
    return frozenset(found - _STOP), tuple(identifiers)


def _parts(word: str) -> set[str]:
    """The concepts an identifier's parts name (store_rows: store, row); none for a word."""
    if "_" not in word and "." not in word:
        return set()
    return {_concept(part) for part in re.split(r"[_.]", word)
            if (len(part) > 1 or part in "qkvo") and part not in _STOP and not part.isdigit()}


def _concept(word: str) -> str:
    """A word's concept as the tables name it (never stemmed: "regs" and "registers" are one),
    else as they name its stem or the stem with its "e" ("reduced": reduce), else the stem."""
    if word in _WORDS or word in _NAMED:
        return _WORDS.get(word, word)
    stem = _stem(word)
    return _WORDS.get(stem) or _WORDS.get(stem + "e") or stem.removesuffix("e")


def _stem(word: str) -> str:
    """``word`` without its ending: copies and copied are copy, loading is load."""
    for end, plain in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", "e"),
                       ("s", "")):
        if (len(word) > len(end) + 3 and word.endswith(end) and not word.endswith("ss")
                and "_" not in word):
            return word[:-len(end)] + plain
    return word


@lru_cache(maxsize=8_192)
def settings(text: str) -> dict[str, str]:
    """Each knob or parameter ``text`` sets, with its value: 'BLOCK_N=176', 'BLOCK_N 176',
    '3 stages' and 'stages to 3' all read {'block_n': '176'} or {'stage': '3'}."""
    text = _plain(text)
    found = {_knob(name): value for value, name in _VALUE_FIRST.findall(text)}
    for name, value in _KNOB.findall(text):
        if name not in _STOP:
            found.setdefault(_knob(name), value)
    return found


def _knob(name: str) -> str:
    name = _WORDS.get(name, name)
    return name[:-1] if name.endswith("s") and len(name) > 3 else name


@lru_cache(maxsize=8_192)
def directions(text: str) -> frozenset[str]:
    """Which way ``text`` moves what it changes: {'up'}, {'down'}, both, or neither. A word
    said in passing ("drop", 'off~') that leads the idea, with no condition after it, is its
    verb: "drop the fence after stage_rows" removes it, as against "a fence after stage_rows";
    "drop the wait when O_BUFFER is on" only says when."""
    words = _TOKEN.findall(_plain(text, switches=True))
    found = {_DIRECTIONS[w] for w in words if w in _DIRECTIONS}
    said = [w for w in words if w not in _STOP]  # after any filler ("let's try")
    # A switch that leads the idea is its verb ("PINGPONG=1: ..."); elsewhere it says when
    # ("skip the wait with O_BUFFER 1").
    if said[1:2] and said[1] in _SWITCHED:
        found.add(("off", "on")[_SWITCHED.index(said[1])])
    if said and _DIRECTIONS.get(said[0]) == "off~" and not _CONDITIONS & set(words):
        found = (found - {"off~"}) | {"off"}
    return frozenset(found)


def _is_knob(name: str) -> bool:
    """A setting named as a knob (BLOCK_N) or a count of a kind (stages, warps), not a word
    glued to a digit (exp2)."""
    return "_" in name or name in _COUNTED


@lru_cache(maxsize=8_192)
def numbers(text: str) -> frozenset[str]:
    """The numbers ``text`` gives, but those it measured ('412 us', '5%', '2.1 TB/s'): a time or a
    rate says how a candidate did, not what it changes."""
    return frozenset(_NUMBER.findall(_MEASURED.sub(" ", _plain(text, switches=True))))


def apart(a: str, b: str) -> str | None:
    """Why two ideas are two experiments whatever their words share (a knob at two values,
    two different numbers, two sides of one choice); None if nothing tells them apart."""
    sa, sb = settings(a), settings(b)
    na, nb = numbers(a), numbers(b)
    renumbered = _renumbered(na, nb)
    for knob in sa.keys() & sb.keys():
        if sa[knob] != sb[knob] and not renumbered:
            return f"{knob} {sa[knob]} is not {knob} {sb[knob]}"
    if na and nb and not (na <= nb or nb <= na) and not renumbered:
        return f"{', '.join(sorted(na))} is not {', '.join(sorted(nb))}"
    opposite = _opposite(directions(a), directions(b)) or _renamed(concepts(a), concepts(b))
    if opposite:
        return opposite
    ca, cb = concepts(a), concepts(b)
    for side in _SIDES:
        ha, hb = ca & side, cb & side
        if ha and hb and not (ha & hb):
            return f"{'/'.join(sorted(ha))} is not {'/'.join(sorted(hb))}"
    return None


def _opposite(da: frozenset[str], db: frozenset[str]) -> str | None:
    """Why two ideas move what they change opposite ways on one axis; None if they do not
    (an axis with a default gives it to the idea that says nothing, _UNSAID)."""
    for axis in _AXES:
        ha: set[str] = set(da & axis)
        hb: set[str] = set(db & axis)
        if axis in _UNSAID and (ha | hb) - {"off~"}:
            ha, hb = ha or {_UNSAID[axis]}, hb or {_UNSAID[axis]}
        ha, hb = {d.rstrip("~") for d in ha}, {d.rstrip("~") for d in hb}
        if ha and hb and not (ha & hb):
            return f"{'/'.join(sorted(ha))} is not {'/'.join(sorted(hb))}"
    return None


def _renumbered(na: frozenset[str], nb: frozenset[str]) -> bool:
    """Small indices counted from 0 in one idea and from 1 in the other (warpgroups 0 and 1,
    warpgroups 1 and 2): not two experiments for that alone, whatever larger numbers one idea
    adds as detail (256 threads). One number moved by one is another value (THREADS 2,
    THREADS 3), never a renumbering."""
    ia, ib = ({int(n) for n in na if n.isdigit() and int(n) <= _INDEX},
              {int(n) for n in nb if n.isdigit() and int(n) <= _INDEX})
    rest_a, rest_b = na - {str(n) for n in ia}, nb - {str(n) for n in ib}
    return (len(ia) >= 2 and (rest_a <= rest_b or rest_b <= rest_a)
            and ({n + 1 for n in ia} == ib or {n + 1 for n in ib} == ia))


def _renamed(ca: frozenset[str], cb: frozenset[str]) -> str | None:
    """Two identifiers that differ in one part (evict_first and evict_last, k_full and
    v_full), each named by one idea alone: two settings, two experiments."""
    only_a = [c.split("_") for c in ca - cb if "_" in c]
    only_b = [c.split("_") for c in cb - ca if "_" in c]
    for x in only_a:
        for y in only_b:
            if len(x) == len(y) and sum(p != q for p, q in zip(x, y, strict=True)) == 1:
                return f"{'_'.join(x)} is not {'_'.join(y)}"
    return None


def likeness(a: str, b: str) -> float:
    """1 or 0 for two ideas that both say what they change (changes.py: their changes agree
    or not); else Dice's coefficient of their concepts, 0 to 1 (0 when they are apart)."""
    structured = changes.same(a, b)
    if structured is not None:
        return 1.0 if structured else 0.0
    a, b = changes.untagged(a), changes.untagged(b)
    ca, cb = concepts(a), concepts(b)
    if not ca or not cb or apart(a, b):
        return 0.0
    ca, cb = _counted(a, cb), _counted(b, ca)
    dice = 2 * len(ca & cb) / (len(ca) + len(cb))
    # One idea that names every concept of a shorter one, and more (how it works): the same.
    small = min(len(ca), len(cb))
    contained = CONTAINED * len(ca & cb) / small if small >= 2 else 0.0
    # One knob set to one value in both, nothing apart: the same setting in other words.
    sa, sb = settings(a), settings(b)
    shared = SAME if any(sa[k] == sb[k] for k in sa.keys() & sb.keys() if _is_knob(k)) else 0.0
    # A knob at a value, and the other idea naming that knob's concept with that number
    # ("raise STAGES to 4", "a four-deep ring keeps 4 tiles in flight"): the same setting.
    if _set_as_said(sa, cb, numbers(b)) or _set_as_said(sb, ca, numbers(a)):
        shared = SAME
    return max(dice, contained, shared)


def _counted(text: str, other: frozenset[str]) -> frozenset[str]:
    """The concepts of ``text`` that count against an idea that names ``other``. An
    identifier both name counts whole and by its parts; one ``text`` alone names counts by
    the parts the domain knows or ``other`` names (store_rows: store, row; not the cu, tensor
    and map of CU_TENSOR_MAP_SWIZZLE_128B), else once, whole (tile_of)."""
    named, identifiers = _read(text)
    found = set(named)
    for whole, parts in identifiers:
        if whole in other:
            found |= parts
            continue
        counted = {p for p in parts if p in _KNOWN or p in other}
        if counted:
            found = (found - {whole}) | counted
    return frozenset(found)


def _set_as_said(knobs: dict[str, str], named: frozenset[str], said: frozenset[str]) -> bool:
    """Whether an idea names, with its value, a counted knob that another idea sets."""
    return any(_is_knob(k) and v in said and k in {_knob(c) for c in named}
               for k, v in knobs.items())


def same(a: str, b: str) -> bool:
    """Are ``a`` and ``b`` one experiment?"""
    return likeness(a, b) >= SAME
