"""Small modal dialogs: multi-line text (hints, guidance), one-line input, and a choice."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, TextArea


class Dialog(ModalScreen[str | None]):
    """A small box in the middle of the screen; the app stays visible around it."""

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


class TextDialog(Dialog):
    """Multi-line text; ctrl+s sends it, escape cancels (None)."""

    BINDINGS = [Binding("ctrl+s", "send", "send"), Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, help_text: str, initial: str = "") -> None:
        super().__init__()
        self.title_text, self.help_text, self.initial = title, help_text, initial

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/]")
            yield Label(f"[dim]{self.help_text}  ctrl+s send · escape cancel[/]")
            yield TextArea(self.initial, id="text", soft_wrap=True)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_send(self) -> None:
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
            yield Label(f"[b]{self.title_text}[/]  [dim]enter · escape cancel[/]")
            yield Input(self.initial, id="line")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(Dialog):
    """A question and a few answers, each with a key; escape cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, choices: dict[str, str]) -> None:
        """``choices``: {answer id: button label}; the label's first letter is its key."""
        super().__init__()
        self.question, self.choices = question, choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            with Horizontal():
                for answer, label in self.choices.items():
                    yield Button(label, id=f"choice-{answer}")
                yield Button("Cancel", id="choice-cancel", variant="default")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

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
