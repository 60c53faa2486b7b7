"""Small modal dialogs: multi-line text (hints, guidance), one-line input, a choice, and the
review of suspects (flagged results held for the operator)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ...evaluation.declarations import contract
from ...operators.hints import KnobRequest, read_knob_request, reading_line
from ...store import Suspect


class Dialog(ModalScreen[str | None]):
    """A small box in the middle of the screen; the app stays visible around it. Its text
    wraps (Statics, not Labels, which keep one line and cut it on a narrow terminal)."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    Dialog TextArea { height: 8; }
    Dialog Horizontal { height: auto; align: right middle; }
    Dialog Button { margin: 0 0 0 1; min-width: 10; }
    """
    SCOPED_CSS = False  # the rules name Dialog themselves, so subclasses share them


@dataclass
class KnobsRead(Message):
    """The head's knobs, read off the event loop for a dialog that names them: ``text`` its
    line (knobs_line), ``choices`` each knob's values, and whether the session's operator
    reads the text as knob requests (the tuner; an agent reads it as written)."""

    text: str
    choices: dict[str, tuple[str, ...]] | None = None
    tuner: bool = False


def knobs_line(files: dict[str, str]) -> str:
    """``BLOCK_Q 16|32*|64 · THREADS 1*|2``: every knob the files declare, its allowed
    values and (starred) the one it has now; "" when they declare none."""
    knobs: list[contract.Knob] = []
    for text in files.values():
        try:
            knobs += contract.parse(text).knobs
        except contract.ContractError:
            continue
    return " · ".join(
        f"{k.name} " + "|".join(f"{c}*" if c == k.value else c for c in k.choices)
        for k in knobs)


class TextDialog(Dialog):
    """Multi-line text, the cursor at its end; ctrl+s sends it, escape cancels (None), the
    Clear button empties it. With ``knobs``, a line under the help names the head's knobs
    once they are read (KnobsRead), and in a tuner's session a line under the text says, as
    it is typed, how the tuner will read it; what it cannot read is not sent."""

    BINDINGS = [Binding("ctrl+s", "send", "send"), Binding("escape", "cancel", "cancel")]
    SCOPED_CSS = False  # .short is the app's class (app.py)
    # On a short terminal (80x24) the dialog takes the height it may and the text field what
    # the rest leaves, so a refusal under it never pushes the buttons off the screen; a
    # refusal longer than its box scrolls, its end (what is not sent) in view.
    DEFAULT_CSS = """
    TextDialog #reading-box { height: auto; max-height: 8; }
    .short TextDialog > Vertical { height: 90%; }
    .short TextDialog TextArea { height: 1fr; min-height: 3; }
    """

    def __init__(self, title: str, help_text: str, initial: str = "",
                 knobs: bool = False) -> None:
        super().__init__()
        self.title_text, self.help_text, self.initial = title, help_text, initial
        self.knobs = knobs
        self.choices: dict[str, tuple[str, ...]] = {}  # the tuner's knobs, once read

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{self.title_text}[/]")
            yield Static(f"[dim]{self.help_text}  ctrl+s send · escape cancel[/]")
            if self.knobs:
                yield Static("[dim]the head's knobs: reading ...[/]", id="knobs")
            yield TextArea(self.initial, id="text", soft_wrap=True)
            with VerticalScroll(id="reading-box", can_focus=False):
                yield Static("", id="reading")
            with Horizontal():
                yield Button("Clear", id="clear", variant="default")

    def on_knobs_read(self, message: KnobsRead) -> None:
        self.query_one("#knobs", Static).update(
            Text(f"the head's knobs (* now): {message.text}" if message.text else
                 "the head declares no knobs", style="cyan"))
        self.choices = dict(message.choices or {}) if message.tuner else {}
        self._preview()

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._preview()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "clear":
            area = self.query_one(TextArea)
            area.clear()
            area.focus()

    def _reading(self) -> KnobRequest | None:
        """How the tuner reads the text; None where nothing reads it as knob requests."""
        text = self.query_one(TextArea).text.strip()
        return read_knob_request(text, self.choices) if self.choices and text else None

    def _preview(self) -> None:
        request = self._reading()
        if request is None:
            text = Text("")
        elif request.usable:
            text = Text(reading_line(request, self.choices), style="green")
        else:
            text = Text(reading_line(request, self.choices) + " Not sent as it is.",
                        style="red")
        self.query_one("#reading", Static).update(text)
        self.query_one("#reading-box").scroll_end(animate=False)

    def action_send(self) -> None:
        request = self._reading()
        if request is not None and not request.usable:
            self.app.bell()  # the line under the text says why, and the forms it reads
            return
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class InputDialog(Dialog):
    """One line; enter sends it, escape cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, initial: str = "") -> None:
        super().__init__()
        self.title_text, self.initial = title, initial

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{self.title_text}[/]  [dim]enter · escape cancel[/]")
            yield Input(self.initial, id="line")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(Dialog):
    """A question and a few answers, each with a key; escape cancels (None). The arrows and
    Tab move between the buttons, the one Enter presses marked (issue 87: Right then Enter
    pressed the first button, Detach, and left a run going that was meant to stop)."""

    BINDINGS = [Binding("escape", "cancel", "cancel"),
                Binding("right,down", "move(1)", "next button", show=False),
                Binding("left,up", "move(-1)", "previous button", show=False)]
    DEFAULT_CSS = """
    ChoiceDialog Button:focus { background: $accent; color: $text; text-style: bold reverse; }
    ChoiceDialog #keys { color: $text-muted; }
    """
    MARK = "▶ "  # before the label of the button Enter presses

    def __init__(self, question: str, choices: dict[str, str]) -> None:
        """``choices``: {answer id: button label}; the label's first letter is its key."""
        super().__init__()
        self.question, self.choices = question, choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), id="question")
            yield Static(Text(f"←/→ or Tab: move · Enter: the marked ({self.MARK.strip()}) "
                              "button · its first letter: that answer · Esc: cancel"),
                         id="keys")
            with Horizontal():
                for answer, label in self.choices.items():
                    yield Button(label, id=f"choice-{answer}")
                yield Button("Cancel", id="choice-cancel", variant="default")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        for button in self.query(Button):
            label = str(button.label).removeprefix(self.MARK)
            button.label = self.MARK + label if button is event.widget else label
            button.refresh(layout=True)  # a label's width is not laid out again by itself:
            # at 80x24 the marked "Stop the run" showed as "▶ Stop the"

    def action_move(self, step: int) -> None:
        buttons = list(self.query(Button))
        at = buttons.index(self.focused) if self.focused in buttons else 0
        buttons[(at + step) % len(buttons)].focus()

    def on_key(self, event: events.Key) -> None:
        key = event.character
        for answer, label in self.choices.items():
            if key and key.lower() == label[0].lower():
                event.stop()  # the app must not also take the key as its own binding
                self.dismiss(answer)
                return

    def on_button_pressed(self, event: Button.Pressed) -> None:
        answer = (event.button.id or "").removeprefix("choice-")
        self.dismiss(None if answer == "cancel" else answer)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SuspectsDialog(Dialog):
    """The pending suspects, one line each; the highlighted one's flags and message below.
    ``a`` approves it (it becomes a version), ``r`` rejects it, escape closes. Dismisses with
    ("approve" | "reject", attempt id), or None."""

    BINDINGS = [Binding("a", "decide('approve')", "approve"),
                Binding("r", "decide('reject')", "reject"),
                Binding("escape", "cancel", "cancel")]
    SCOPED_CSS = False  # .short is the app's class (app.py)
    # what to press is said above the list, so a long detail cut at the bottom of a short
    # terminal never hides it, nor the buttons
    DEFAULT_CSS = """
    SuspectsDialog OptionList { height: auto; max-height: 6; }
    SuspectsDialog #suspect-detail { height: auto; max-height: 8; }
    .short SuspectsDialog OptionList { max-height: 5; }
    .short SuspectsDialog #suspect-detail { max-height: 6; }
    """

    def __init__(self, suspects: list[Suspect]) -> None:
        super().__init__()
        self.suspects = suspects

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Suspects held for your review[/]\n[dim]Flagged as implausible by the "
                         "evaluator; the gate would have committed them.[/]\n[b]a[/] approve: "
                         "commit the highlighted one as a version · [b]r[/] reject · escape "
                         "close")
            yield OptionList(*(Option(_suspect_line(s), id=s.attempt) for s in self.suspects))
            yield Static("", id="suspect-detail")
            with Horizontal():
                yield Button("Approve", id="approve", variant="warning")
                yield Button("Reject", id="reject")
                yield Button("Cancel", id="cancel", variant="default")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()
        self._show_detail()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_detail()

    def _selected(self) -> Suspect | None:
        index = self.query_one(OptionList).highlighted
        return self.suspects[index] if index is not None and self.suspects else None

    def _show_detail(self) -> None:
        suspect = self._selected()
        detail = self.query_one("#suspect-detail", Static)
        if suspect is None:
            detail.update("")
            return
        flags = "\n".join(f"[yellow]⚠[/] {escape(f)}" for f in suspect.flags) or "-"
        detail.update(f"{flags}\n[dim]{escape(suspect.message)}[/]")

    def action_decide(self, action: str) -> None:
        suspect = self._selected()
        if suspect is not None:
            self.dismiss(f"{action} {suspect.attempt}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id in ("approve", "reject"):
            self.action_decide(event.button.id)
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _suspect_line(s: Suspect) -> Text:
    ratio = f" {s.ratio:.3f}x" if s.ratio else ""
    text = Text(s.attempt, style="bold")
    text.append(f" {s.gmean:.4g} {s.unit}{ratio} by {s.author} from {s.base}, "
                f"{len(s.flags)} flag{'s' if len(s.flags) != 1 else ''}")
    return text
