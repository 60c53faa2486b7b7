"""An outline of a CUDA C++ or C source: its top-level pieces with 1-based line ranges, so the
agent can ``view`` the range it needs instead of the whole file.

One pass over tokens (comments, strings, character literals and preprocessor lines are whole
tokens, so the braces inside them never count) follows namespaces, ``extern "C"`` blocks and long
structs, and skips over function bodies by counting braces (inside an ``#if``, the braces of one
branch). It is a heuristic, not a parser: on malformed text (unbalanced braces, unterminated
comments or strings) a range may be off, but it always ends, in time linear in the text, and
says at most ``MAX_ENTRIES`` lines. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_ENTRIES = 60  # lines under the header
# Work bounds: far beyond any real kernel (a 30 KB seed is about 4,000 tokens and 60 pieces),
# so hostile text costs a second at most. Past one, the outline says where it stopped.
MAX_CHARS = 4_000_000
MAX_TOKENS = 200_000
MAX_PIECES = 5_000
MAX_NAMES = 200  # kept by one "#define A, B, ..." line; the rest only counted
WIDTH = 100  # characters of one entry's description
MAX_HEAD_TOKENS = 80  # of a declaration's head: enough to name it
TOKEN_CHARS = {"directive": 2000, "line_comment": 300, "block_comment": 300}
MAX_TOKEN_CHARS = 80
MAX_SHOWN_DEPTH = 4
LONG_COMMENT = 6  # lines: a comment this long is listed; a shorter one leads the next piece
STRUCT_MEMBERS_FROM = 30  # a struct this many lines long lists its members
MAX_BRANCHES = 64  # open #if levels followed
MAX_NESTING = 8  # scopes listed inside one another; deeper ones are skipped like bodies

TOKEN = re.compile(  # the structural characters first: the cheapest to find in a flood
    r"""
    (?P<brace>[{};(),<>=\[\]])
    |(?P<directive>(?<![^\n])[ \t]*\#(?:[^\n\\/"']+|\\[\s\S]|/\*[\s\S]*?(?:\*/|\Z)|//[^\n]*|/
        |"(?:[^"\\\n]+|\\[\s\S])*"?|'(?:[^'\\\n]+|\\[\s\S])*'?)*)
    |(?P<newline>\n)
    |(?P<space>[^\S\n]+)
    |(?P<line_comment>//[^\n]*)
    |(?P<block_comment>/\*[\s\S]*?(?:\*/|\Z))
    |(?P<raw_open>(?:u8|[uUL])?R"(?P<delim>[^()\\\s"]{0,16})\()
    |(?P<string>(?:u8|[uUL])?"(?:[^"\\\n]+|\\[\s\S])*"?)
    |(?P<char>(?:u8|[uUL])?'(?:[^'\\\n]+|\\[\s\S])*'?)
    |(?P<number>\.?\d(?:[\w.]|'(?=\w)|(?<=[eEpP])[+-])*)
    |(?P<word>[^\W\d]\w*)
    |(?P<punct>::|->|[\s\S])
    """,
    re.VERBOSE,
)
DIVIDER = re.compile(r"^\s*(?://|/\*)\s*[-=#*~]{3,}")
AVO_COMMENT = re.compile(r"^//\s*avo:(\w+)")
DEFINE = re.compile(r"#\s*define\s+(\w+)(\()?")
DIRECTIVE_WORDS = re.compile(r"#\s*(\w+)[ \t]*([^\s/]*)")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Calls in a declaration's head that are attributes, not the declared function.
ATTRIBUTES = frozenset({
    "__launch_bounds__", "__maxnreg__", "__cluster_dims__", "__attribute__", "__declspec",
    "alignas", "__align__", "decltype", "__nv_register_params__",
})
RECORDS = frozenset({"struct", "class", "union"})
ACCESS = frozenset({"public", "private", "protected"})
# Like pieces side by side become one line ("#define A, B, C").
LISTS = {
    "knobs": "knobs (avo:knob):", "avo": "avo: declarations:", "define": "#define",
    "include": "#include", "preprocessor": "preprocessor:", "declarations": "declarations:",
}
# What may be folded into "N pieces: ..." when the outline is too long; the kernel's
# declarations (knobs, avo:) and the kernels themselves come last.
MINOR = frozenset({"define", "include", "preprocessor", "declarations", "function", "struct",
                   "macro", "calls", "other", "group"})
MACRO_LINES = 3  # a #define this long is listed by itself


@dataclass
class Piece:
    start: int
    end: int
    kind: str
    label: str = ""
    name: str = ""
    names: list[str] = field(default_factory=list)  # what a list or a folded run holds
    hidden: int = 0  # names past MAX_NAMES
    members: int = 1  # pieces folded into this one
    children: list[Piece] = field(default_factory=list)


@dataclass(slots=True)
class Token:
    kind: str
    text: str
    line: int
    end_line: int
    gap: bool  # whitespace or a comment came before it


@dataclass
class Head:
    """The tokens of the declaration being read at a scope's level, up to its ``{`` or ``;``."""

    start: int = 0
    tokens: list[Token] = field(default_factory=list)
    count: int = 0

    def add(self, token: Token) -> None:
        if not self.count:
            self.start = token.line
        self.count += 1
        if len(self.tokens) < MAX_HEAD_TOKENS:
            self.tokens.append(token)


@dataclass
class Scope:
    """A namespace, extern "C" block or struct whose members are listed."""

    piece: Piece
    record: bool = False  # a struct: its members are kept only when it is long
    head: Head = field(default_factory=Head)
    after: Piece | None = None  # a struct or initializer whose ";" may follow on its last line


@dataclass
class Comment:
    start: int
    end: int
    text: str


def outline(name: str, text: str) -> str:
    """``NAME (N lines)``, then one line per top-level piece: its line range and what it is."""
    lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    header = f"{clean(name, WIDTH)} ({lines} line{'' if lines == 1 else 's'})"
    scanner = Scanner(text[:MAX_CHARS])
    pieces = scanner.run()
    if len(text) > MAX_CHARS and scanner.stopped is None:
        scanner.stopped = f"after {MAX_CHARS} characters"
    rows = render_pieces(bound(pieces, MAX_ENTRIES - (scanner.stopped is not None)))
    if scanner.stopped is not None:
        rows.append(f"  (the outline stops at line {scanner.last_line}, {scanner.stopped})")
    if not rows:
        rows.append("  (no top-level declarations found)")
    return "\n".join([header, *rows])


# -- scanning ----------------------------------------------------------------------------------


def tokens(text: str) -> Iterator[Token]:
    """Code, comment and directive tokens with their lines; whitespace only sets ``gap``."""
    line, pos, gap = 1, 0, True
    while pos < len(text):
        restart = None
        for match in TOKEN.finditer(text, pos):
            kind = match.lastgroup or "punct"
            if kind == "brace":
                yield Token("punct", match.group(), line, line, gap)
                gap = False
                continue
            if kind == "newline":
                line, gap = line + 1, True
                continue
            if kind == "space":
                gap = True
                continue
            start, end = match.span()
            if kind == "raw_open":  # R"x( ... )x": its end found by search, not backtracking
                closing = ")" + match.group("delim") + '"'
                found = text.find(closing, end)
                restart = end = len(text) if found < 0 else found + len(closing)
                kind = "string"
            shown = text[start:min(end, start + TOKEN_CHARS.get(kind, MAX_TOKEN_CHARS))]
            newlines = text.count("\n", start, end) if end - start > 1 else 0
            last = line + newlines - (text[end - 1] == "\n")  # a comment run to the end
            yield Token(kind, shown, line, last, gap)
            line += newlines
            gap = kind in ("line_comment", "block_comment")
            if restart is not None:
                break
        pos = len(text) if restart is None else restart


class Scanner:
    """Turns tokens into pieces: declarations at each scope's level, bodies skipped."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.scopes = [Scope(Piece(1, 1, "file"))]
        self.body: Piece | None = None  # the function or other body being skipped
        self.body_depth = 0
        # per open #if: the body depth at the #if, and after its first branch
        self.branches: list[tuple[int, int | None]] = []
        self.body_wants_semicolon = False
        self.comment: Comment | None = None  # the latest comment run not listed yet
        self.last_line = 1
        self.pieces = 0
        self.stopped: str | None = None  # why the scan ended before the text did

    def run(self) -> list[Piece]:
        for number, token in enumerate(tokens(self.text)):
            if number >= MAX_TOKENS or self.pieces >= MAX_PIECES:
                what = "tokens" if number >= MAX_TOKENS else "pieces"
                self.stopped = f"after {number if what == 'tokens' else self.pieces} {what}"
                break
            self.last_line = token.end_line
            if self.body_depth:
                self.in_body(token)
            else:
                self.at_scope(token)
        return self.finish()

    def in_body(self, token: Token) -> None:
        if token.kind == "directive":
            self.conditional(token.text)
        if token.kind != "punct" or token.text not in ("{", "}"):
            return
        self.body_depth += 1 if token.text == "{" else -1
        if not self.body_depth and self.body is not None:
            self.body.end = token.line
            if self.body_wants_semicolon:
                self.scopes[-1].after = self.body
            self.add(self.body)
            self.body = None

    def conditional(self, directive: str) -> None:
        """Braces count as in one branch of an ``#if``: "#if A / for (...) { / #else /
        for (...) { / #endif" opens one block, not two. (Every branch is still read, so a
        piece is named by the last branch that declares it.)"""
        words = DIRECTIVE_WORDS.match(directive.strip())
        verb = words.group(1) if words else ""
        if verb.startswith("if") and len(self.branches) < MAX_BRANCHES:
            self.branches.append((self.body_depth, None))
        elif verb in ("elif", "else", "elifdef", "elifndef") and self.branches:
            at_if, after_first = self.branches[-1]
            self.branches[-1] = (at_if, self.body_depth if after_first is None else after_first)
            self.body_depth = at_if
            if not at_if:
                self.body = None  # "#if / void f() { / #else / void g() {": g's head comes next
        elif verb == "endif" and self.branches:
            after_first = self.branches.pop()[1]
            if after_first is not None:
                self.body_depth = after_first

    def at_scope(self, token: Token) -> None:
        scope = self.scopes[-1]
        if token.kind in ("word", "number", "string", "char") and scope.after is None:
            scope.head.add(token)  # the common case first
            return
        if scope.after is not None:
            waiting, scope.after = scope.after, None
            same_line = token.line == waiting.end and token.kind in ("punct", "word")
            if same_line and token.text == ";":
                return
            if same_line and token.text not in ("{", "}"):  # "} name;" after a struct
                if token.kind == "word" and waiting.label.endswith("(anonymous)"):
                    waiting.label = waiting.label.replace("(anonymous)", token.text)
                    waiting.name = token.text
                scope.after = waiting
                return
        if token.kind.endswith("comment"):
            self.on_comment(token)
        elif token.kind == "directive":
            self.on_directive(token)
        elif token.text == ";" and token.kind == "punct":
            scope.head.add(token)
            self.flush(token.line)
        elif token.text == "{" and token.kind == "punct":
            self.open_brace(token)
        elif token.text == "}" and token.kind == "punct":
            self.close_scope(token)
        else:
            scope.head.add(token)

    def on_comment(self, token: Token) -> None:
        if self.scopes[-1].head.count:
            return  # inside a declaration
        text, start, end = token.text, token.line, token.end_line
        avo = AVO_COMMENT.match(text)
        if avo:
            self.add(Piece(self.lead(start), end, "avo", names=[avo.group(1)]))
        elif DIVIDER.match(text):
            self.settle()
            self.comment = None
            self.add(Piece(start, end, "comment", "// " + comment_words(text)))
        elif self.comment and start - 1 <= self.comment.end:
            self.comment.end = end
        else:
            self.settle()
            self.comment = Comment(start, end, text)

    def on_directive(self, token: Token) -> None:
        self.conditional(token.text)
        if self.scopes[-1].head.count:
            return  # an #if around a parameter, say
        text, start, end = token.text.strip(), token.line, token.end_line
        define = DEFINE.match(text)
        if define and "avo:knob" in text:
            self.add(Piece(self.lead(start), end, "knobs", names=[define.group(1)]))
        elif define and end - start + 1 >= MACRO_LINES:
            signature = text.split(")", 1)[0] + ")" if define.group(2) else define.group(1)
            shown = clean(re.sub(r"^#\s*define\s+", "", signature), WIDTH - 30)
            self.add(Piece(self.lead(start), end, "macro", f"#define {shown} (multi-line macro)",
                           name=define.group(1)))
        elif define:
            shown = define.group(1) + ("()" if define.group(2) else "")
            self.add(Piece(self.lead(start), end, "define", names=[shown]))
        else:
            words = DIRECTIVE_WORDS.match(text)
            verb, argument = (words.group(1), words.group(2)) if words else ("", "")
            kind = "include" if verb == "include" else "preprocessor"
            if verb in ("error", "warning"):
                argument = ""  # a message, not a name
            shown = argument if kind == "include" else f"#{verb} {argument}".strip()
            self.add(Piece(self.lead(start), end, kind, names=[shown]))

    def open_brace(self, token: Token) -> None:
        scope = self.scopes[-1]
        head = scope.head
        start = self.lead(head.start if head.count else token.line)
        nested = len(self.scopes) <= MAX_NESTING
        container = container_label(head) if nested else None
        record = record_name(head) if nested else None
        if container is not None:
            self.scopes.append(Scope(Piece(start, token.line, "namespace", container)))
        elif record is not None:
            piece = Piece(start, token.line, "struct", record, name=record.split()[-1])
            self.scopes.append(Scope(piece, record=True))
        else:
            texts = {t.text for t in head.tokens}
            self.body = declaration(head.tokens, start, token.line, braced=True)
            self.body_depth = 1
            self.body_wants_semicolon = bool({"=", "enum", "typedef"} & texts)
        scope.head = Head()

    def close_scope(self, token: Token) -> None:
        if len(self.scopes) == 1:
            return  # an unbalanced "}": nothing to close
        self.flush(token.line)
        self.settle()
        self.comment = None
        scope = self.scopes.pop()
        scope.piece.end = token.line
        if scope.record and token.line - scope.piece.start + 1 < STRUCT_MEMBERS_FROM:
            scope.piece.children = []
        self.add(scope.piece)
        if scope.record:
            self.scopes[-1].after = scope.piece

    def flush(self, end: int) -> None:
        """The declaration read so far at this scope's level ends on line ``end``."""
        head = self.scopes[-1].head
        if head.count:
            start = self.lead(head.start)
            self.add(declaration(head.tokens, start, end, braced=False))
        self.scopes[-1].head = Head()

    def settle(self) -> None:
        """Lists the pending comment run when it is long (a file's header, say)."""
        run = self.comment
        if run is not None and run.end - run.start + 1 >= LONG_COMMENT:
            self.add(Piece(run.start, run.end, "comment", "// " + comment_words(run.text)))
            self.comment = None

    def lead(self, start: int) -> int:
        """Where a piece starting on line ``start`` begins: at the short comment right above
        it, when there is one."""
        self.settle()
        run, self.comment = self.comment, None
        return run.start if run is not None and start - 1 <= run.end <= start else start

    def add(self, piece: Piece) -> None:
        self.pieces += 1
        siblings = self.scopes[-1].piece.children
        last = siblings[-1] if siblings else None
        if last is not None and last.kind == piece.kind and piece.kind in LISTS:
            last.end = max(last.end, piece.end)
            room = max(0, MAX_NAMES - len(last.names))
            last.names.extend(piece.names[:room])
            last.hidden += len(piece.names) - len(piece.names[:room]) + piece.hidden
        else:
            siblings.append(piece)

    def finish(self) -> list[Piece]:
        """Closes whatever the text leaves open at its end."""
        if self.body is not None:
            self.body.end = self.last_line
            self.body.label += " (not closed)"
            self.add(self.body)
        while len(self.scopes) > 1:
            self.flush(self.last_line)
            scope = self.scopes.pop()
            scope.piece.end = self.last_line
            scope.piece.label += " (not closed)"
            self.add(scope.piece)
        self.flush(self.last_line)
        self.settle()
        return self.scopes[0].piece.children


# -- naming pieces -----------------------------------------------------------------------------


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


# -- bounding and printing ---------------------------------------------------------------------


def count(pieces: list[Piece]) -> int:
    return sum(1 + count(p.children) for p in pieces)


def bound(pieces: list[Piece], limit: int) -> list[Piece]:
    """At most ``limit`` entries: runs of small pieces are folded, the size that counts as small
    growing until the outline fits; then containers fold their members; then the list is cut."""
    for small in (3, 5, 8, 12, 20, 30, 50, 80, 150, 400, None):
        if count(pieces) <= limit:
            return pieces
        pieces = fold(pieces, small, MINOR)
    for container in deepest_first(pieces):
        if count(pieces) <= limit:
            return pieces
        container.label += f" ({count(container.children)} pieces inside)"
        container.children = []
    if count(pieces) > limit:
        pieces = fold(pieces, None, MINOR | {"comment", "namespace"})
    if len(pieces) > limit:
        rest = pieces[limit - 1:]
        pieces = [*pieces[:limit - 1],
                  Piece(rest[0].start, rest[-1].end, "group", f"… {len(rest)} more pieces")]
    return pieces


def deepest_first(pieces: list[Piece]) -> list[Piece]:
    """Containers, inner ones before the ones holding them, the fuller first at each level."""
    nested = sorted((p for p in pieces if p.children), key=lambda p: -count(p.children))
    return [inner for p in nested for inner in deepest_first(p.children)] + nested


def fold(pieces: list[Piece], small: int | None, kinds: frozenset[str]) -> list[Piece]:
    """Runs of two or more pieces of ``kinds`` shorter than ``small`` lines become one."""
    folded: list[Piece] = []
    run: list[Piece] = []
    for piece in pieces:
        piece.children = fold(piece.children, small, kinds)
        if piece.kind in kinds and not piece.children and (
                small is None or piece.end - piece.start < small):
            run.append(piece)
            continue
        folded.extend(folded_run(run))
        run = []
        folded.append(piece)
    folded.extend(folded_run(run))
    return folded


def folded_run(run: list[Piece]) -> list[Piece]:
    if len(run) < 2:
        return run
    names = [n for p in run for n in (p.names or [p.name or p.kind])]
    hidden = sum(p.hidden for p in run) + max(0, len(names) - MAX_NAMES)
    functions = all(p.kind == "function" or p.label.endswith("functions:") for p in run)
    members = sum(p.members for p in run)
    what = f"{members} functions:" if functions else f"{members} pieces:"
    return [Piece(run[0].start, run[-1].end, "group", what, names=names[:MAX_NAMES],
                  hidden=hidden, members=members)]


def describe(piece: Piece) -> str:
    if piece.kind in LISTS or piece.kind == "group":
        title = LISTS.get(piece.kind, piece.label)
        if not piece.names:
            return clean(title, WIDTH)
        return f"{title} {listing(piece.names, piece.hidden, WIDTH - len(title) - 1)}"
    return clean(piece.label, WIDTH)


def listing(names: list[str], hidden: int, width: int) -> str:
    """Names in order, repeats counted ("require ×5"), cut to ``width`` with the rest counted
    (``hidden`` more were never kept)."""
    counted: dict[str, int] = {}
    for name in names:
        counted[name] = counted.get(name, 0) + 1
    items = [clean(f"{n} ×{c}" if c > 1 else n, 40) for n, c in counted.items()]
    shown: list[str] = []
    for position, item in enumerate(items):
        rest = len(items) - position + hidden
        more = len(f", … (+{rest})") if rest > 1 else 0
        if len(", ".join([*shown, item])) + more > width:
            return ", ".join([*shown, f"… (+{rest})"])
        shown.append(item)
    return ", ".join([*shown, f"… (+{hidden})"] if hidden else shown)


def render_pieces(pieces: list[Piece]) -> list[str]:
    rows: list[tuple[str, int, str]] = []

    def visit(level: list[Piece], depth: int) -> None:
        for piece in level:
            span = f"{piece.start}" if piece.end <= piece.start else f"{piece.start}-{piece.end}"
            rows.append((span, min(depth, MAX_SHOWN_DEPTH), describe(piece)))
            visit(piece.children, depth + 1)

    visit(pieces, 0)
    width = max((len(span) for span, _, _ in rows), default=0)
    return [f"  {span:<{width}}  {'  ' * depth}{text}" for span, depth, text in rows]
