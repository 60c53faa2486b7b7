"""A run's status as every view names it (the app's status bar, ``avo sessions list``): the
stored status, told apart where one name would say two things. A run killed is no clean stop;
a run's own --max-steps is no session budget; a stall says what the supervisor does."""

from __future__ import annotations

from dataclasses import dataclass

from .budget import RUN_LIMIT


@dataclass(frozen=True)
class RunStatus:
    """What a view says about the run."""

    # running, paused, stalled, limit-reached, budget-reached, stopped, killed, finished, crashed
    name: str
    reason: str = ""


def name_run_status(status: str, reason: str, *, session: str, live: bool,
                    stalled: str = "") -> RunStatus:
    """The stored ``status`` and ``reason`` of ``session`` as a view names them; ``live``:
    a process runs it now; ``stalled``: why the supervisor intervened, while nothing was
    committed since ("" when it did not, or the view does not follow the events)."""
    resume = f"resume with avo run --session {session}"
    if status == "running" and not live:  # a clean end would have said so
        return RunStatus("killed", f"its process died without ending the run (killed, or "
                                   f"the machine went down); {resume}")
    if status == "finished" and reason.startswith(RUN_LIMIT):
        return RunStatus("limit-reached", f"{reason}; {resume}")
    if status in ("paused", "finished") and "budget" in reason:
        return RunStatus("budget-reached", reason)
    if status == "running" and stalled:
        return RunStatus("stalled", f"{stalled}: the supervisor is redirecting the search to "
                                    "other directions until a commit")
    return RunStatus(status, reason)


def status_text(status: str, reason: str, *, session: str, writer: str | None) -> str:
    """A run's status as a command prints it: its name (:func:`name_run_status`), with the
    process that writes the session now, if one does: ``running (pid 12 on gpu-3)``."""
    name = name_run_status(status, reason, session=session, live=writer is not None).name
    return f"{name} ({writer})" if writer else name
