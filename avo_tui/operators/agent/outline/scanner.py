"""The scan: one pass over a source's tokens that lists the declarations at each scope's level
as pieces, following namespaces, ``extern "C"`` blocks and long structs, and skipping function
bodies by counting braces (in one branch of an ``#if``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .names import clean, comment_words, container_label, declaration, record_name
from .pieces import LISTS, MAX_NAMES, WIDTH, Head, Piece, Token

# Work bounds: far beyond any real kernel (a 30 KB seed is about 4,000 tokens and 60 pieces),
# so hostile text costs a second at most. Past one, the outline says where it stopped.
MAX_CHARS = 4_000_000
MAX_TOKENS = 200_000
MAX_PIECES = 5_000
TOKEN_CHARS = {"directive": 2000, "line_comment": 300, "block_comment": 300}
MAX_TOKEN_CHARS = 80
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
REGION_MARKS = frozenset({"region", "end"})
DEFINE = re.compile(r"#\s*define\s+(\w+)(\()?")
DIRECTIVE_WORDS = re.compile(r"#\s*(\w+)[ \t]*([^\s/]*)")
MACRO_LINES = 3  # a #define this long is listed by itself


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
        if avo and avo.group(1) in REGION_MARKS:
            return  # the brief lists the kernel's regions apart (regions.py)
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
