"""Naming pieces: what a declaration's head declares (a kernel, a function, a struct, a
namespace, macro calls), and the short, printable text that names it in the outline."""

from __future__ import annotations

import re

from .pieces import MAX_HEAD_TOKENS, WIDTH, Head, Piece, Token

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Calls in a declaration's head that are attributes, not the declared function.
ATTRIBUTES = frozenset({
    "__launch_bounds__", "__maxnreg__", "__cluster_dims__", "__attribute__", "__declspec",
    "alignas", "__align__", "decltype", "__nv_register_params__",
})
RECORDS = frozenset({"struct", "class", "union"})
ACCESS = frozenset({"public", "private", "protected"})


def container_label(head: Head) -> str | None:
    """'namespace NAME' or 'extern "C"' for a head that opens a scope of declarations."""
    texts = [t.text for t in head.tokens if t.text != "inline"]
    if texts[:1] == ["namespace"] and len(texts) <= 8 and "(" not in texts:
        return "namespace " + ("".join(texts[1:]) or "(anonymous)")
    if len(texts) == 2 and texts[0] == "extern" and texts[1].startswith('"'):
        return "extern " + texts[1]
    return None


def record_name(head: Head) -> str | None:
    """'struct NAME' (after any template parameters) for the head of a struct, class or union;
    None for anything else, a function returning a struct included."""
    code = strip_access(strip_template(head.tokens))
    texts = [t.text for t in code]
    if texts[:1] == ["typedef"]:
        texts = texts[1:]
    if not texts or texts[0] not in RECORDS or "=" in texts:
        return None
    if function_name(code) is not None:
        return None
    before_bases = texts[:texts.index(":")] if ":" in texts else texts
    names = [t for t in before_bases[1:] if t.isidentifier() and t not in ATTRIBUTES | {"final"}]
    prefix = "template " if head.tokens[0].text == "template" else ""
    return f"{prefix}{texts[0]} {names[-1] if names else '(anonymous)'}"


def declaration(head: list[Token], start: int, end: int, braced: bool) -> Piece:
    """A function or kernel (with a body), an initialized variable or a plain declaration."""
    head = strip_access(head)
    calls = macro_calls(head)
    if calls and not braced:
        return Piece(start, end, "calls", calls)
    code = strip_template(head)
    name = function_name(code)
    words = {t.text for t in code if t.kind == "word"}
    if braced and name is not None:
        kind = "kernel" if "__global__" in words else "function"
        return Piece(start, end, kind, signature(head, name), name=name)
    if braced:
        shown = clean(joined(head), WIDTH - 4)
        return Piece(start, end, "other", f"{shown} {{…}}", name=declared_name(code))
    shown = "static_assert" if "static_assert" in words else declared_name(code)
    return Piece(start, end, "declarations", names=[shown or "…"])


def strip_access(tokens: list[Token]) -> list[Token]:
    """Without leading ``public:``-style labels."""
    while len(tokens) >= 2 and tokens[0].text in ACCESS and tokens[1].text == ":":
        tokens = tokens[2:]
    return tokens


def strip_template(tokens: list[Token]) -> list[Token]:
    """Without leading ``template <...>`` parameter lists."""
    while tokens and tokens[0].text == "template":
        depth, index = 0, len(tokens)
        for position in range(1, len(tokens)):
            depth += (tokens[position].text == "<") - (tokens[position].text == ">")
            if depth <= 0 and tokens[position].text == ">":
                index = position
                break
        tokens = tokens[index + 1:]
    return tokens


def closing_paren(tokens: list[Token], opening: int) -> int | None:
    depth = 0
    for position in range(opening, len(tokens)):
        depth += (tokens[position].text == "(") - (tokens[position].text == ")")
        if depth == 0:
            return position
    return None


def macro_calls(tokens: list[Token]) -> str:
    """'macro calls: WGMMA_SS(…) ×5' for invocations with no ";" between them, else ''."""
    counts: dict[str, int] = {}
    index, cut = 0, False
    while index < len(tokens):
        is_call = tokens[index].kind == "word" and index + 1 < len(tokens) and \
            tokens[index + 1].text == "("
        close = closing_paren(tokens, index + 1) if is_call else None
        cut = is_call and close is None and len(tokens) == MAX_HEAD_TOKENS
        if close is None and not cut:
            return ""
        counts[tokens[index].text] = counts.get(tokens[index].text, 0) + 1
        if close is None:
            break
        index = close + 1
    if sum(counts.values()) < 2:
        return ""
    shown = ", ".join(f"{n}(…) ×{c}" if c > 1 else f"{n}(…)" for n, c in counts.items())
    return f"macro calls: {shown}{' …' if cut else ''}"


def function_name(tokens: list[Token]) -> str | None:
    """The word before the parameter list: the first call that is not an attribute."""
    for index, token in enumerate(tokens[:-1]):
        if token.text in ("=", ";"):
            return None
        if token.kind == "word" and token.text not in ATTRIBUTES and tokens[index + 1].text == "(":
            return token.text
    return None


def declared_name(tokens: list[Token]) -> str:
    """The declared identifier: the last word before "=", "[", "(", "{", ":" or the end."""
    name = ""
    for token in tokens:
        if token.text in ("=", "[", "(", "{", ";", ":"):
            break
        if token.kind == "word":
            name = token.text
    return name


def signature(tokens: list[Token], name: str) -> str:
    """The head as written, whitespace collapsed; its parameters become "…" when too long."""
    full = joined(tokens)
    if len(full) <= WIDTH:
        return full
    index = next((i for i, t in enumerate(tokens) if t.text == name and t.kind == "word"), None)
    close = closing_paren(tokens, index + 1) if index is not None else None
    if index is None or close is None:
        return clean(full, WIDTH)
    ellipsis = Token("punct", "…", 0, 0, False)
    return clean(joined([*tokens[:index + 2], ellipsis, *tokens[close:]]), WIDTH)


def joined(tokens: list[Token]) -> str:
    """Tokens as one line: a space where the source had whitespace, none inside parentheses."""
    text = ""
    for token in tokens:
        if token.kind.endswith("comment"):
            continue
        if text and token.gap and token.text not in (")", ",", ";") and not text.endswith("("):
            text += " "
        text += token.text
        if len(text) > 10 * WIDTH:
            break
    return clean(text, 10 * WIDTH)


def comment_words(text: str) -> str:
    """The first words of a comment, without its markers."""
    words = re.sub(r"/\*+|\*+/|//+|^\s*\*|[-=#*~]{3,}", " ", text, flags=re.M).split()
    return clean(" ".join(words), WIDTH - 3) or "(comment)"


def clean(text: str, width: int) -> str:
    """One line of printable text, at most ``width`` characters."""
    text = " ".join(CONTROL.sub(" ", text).split())
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"
