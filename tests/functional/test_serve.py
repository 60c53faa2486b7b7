"""``avo serve``: the real command serving a real session, its page driven in headless
Chromium (tests/browser.py). The page shows the app (its lineage), a key pressed in the page
reaches the app (``p`` queues a pause in the session's inbox, as the app does with no run
live), a request without the token is refused with 403 (page, static files, websocket), the
token lives nowhere but the address printed once, and --read-only has no key that steers.
Every process it starts ends with its page or with the server: a page left or closed, a
SIGTERM to the server alone (with a view that answers nothing), and a server killed outright
each leave no process of it behind.

What the app draws reaches the page as terminal output over a websocket and is painted on a
canvas; the page is opened with a small hook on WebSocket (installed before any of the page's
scripts run) that keeps that output, so the test reads what the page was sent to draw."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import WAIT_S, chromium, wait_for
from engine_helpers import start
from tui_helpers import branched_session

from avo_tui.commands.serve import loopback
from avo_tui.engine import Stop
from avo_tui.engine.inbox import queued
from avo_tui.evaluation import Worker
from avo_tui.store import Session
from avo_tui.web import cookie_name

# Keeps the bytes each websocket brings, decoded, for the test to read (window.__avoScreen).
KEEP_THE_SCREEN = """
(() => {
  const Native = window.WebSocket, decoder = new TextDecoder();
  window.__avoScreen = [];
  function Kept(url, protocols) {
    const socket = protocols === undefined ? new Native(url) : new Native(url, protocols);
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string")
        window.__avoScreen.push(decoder.decode(new Uint8Array(event.data), {stream: true}));
    });
    return socket;
  }
  Kept.prototype = Native.prototype;
  Object.assign(Kept, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Kept;
})();
"""
ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


@dataclass
class Served:
    url: str  # as printed: with the token
    base: str
    token: str
    session: Path
    process: subprocess.Popen[str]
    lines: list[str]


def serve(root: Path, *options: str, name: str = "demo") -> Served:
    """``avo serve NAME --port 0 ...`` in a process of its own, once it has said where."""
    process = subprocess.Popen(
        [sys.executable, "-m", "avo_tui", "--sessions-dir", str(root), "serve", name,
         "--port", "0", *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True)
    lines: list[str] = []
    printed = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "?token=" in line:
                printed.set()

    threading.Thread(target=read, daemon=True).start()
    if not printed.wait(WAIT_S):
        stop(process)
        raise AssertionError(f"avo serve said nothing of where it listens: {lines}")
    url = next(line.strip() for line in lines if "?token=" in line)
    base, _, token = url.partition("/?token=")
    return Served(url, base, token, root / name, process, lines)


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM to its process group: the server, and the views it started for pages."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A session nobody runs: a p pressed in its view is queued in its inbox."""
    branched_session(tmp_path / "sessions" / "demo").close()
    return tmp_path / "sessions"


@pytest.fixture
def served(root: Path) -> Iterator[Served]:
    server = serve(root)
    yield server
    stop(server.process)


@pytest.fixture
def read_only(root: Path) -> Iterator[Served]:
    server = serve(root, "--read-only")
    yield server
    stop(server.process)


def status(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """A request that follows no redirect: its status, headers and body."""

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(Stay)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=60) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_a_request_without_the_token_is_refused(served: Served) -> None:
    websocket = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    for path, headers in (("/", {}), ("/static/js/textual.js", {}), ("/ws", websocket),
                          ("/?token=not-the-token", {}), ("/ws?token=" + "x" * 43, websocket)):
        code, _, body = status(served.base + path, headers)
        assert code == 403 and "needs its token" in body, path
    wrong = {"Cookie": f"{cookie_name(int(served.base.rsplit(':', 1)[1]))}=not-it"}
    assert status(served.base + "/", wrong)[0] == 403


def test_the_token_lets_a_browser_in_once_and_is_kept_nowhere(served: Served) -> None:
    code, headers, _ = status(served.url)
    assert code == 303 and headers["Location"] == "/"  # the token leaves the address bar
    cookie = headers["Set-Cookie"]
    assert served.token in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    jar = {"Cookie": cookie.split(";")[0]}
    code, _, page = status(served.base + "/", jar)
    assert code == 200 and "textual.js" in page and "http" not in page.split("<body>")[0]
    assert status(served.base + "/static/js/textual.js", jar)[0] == 200
    stop(served.process)
    said = "".join(served.lines)
    assert said.count(served.token) == 1  # printed once, never logged with a request
    for path in served.session.parent.rglob("*"):
        assert not path.is_file() or served.token.encode() not in path.read_bytes(), path


def screen(driver: object) -> str:
    """What the app has sent the page to draw so far, without its escape sequences."""
    sent = driver.execute_script("return (window.__avoScreen || []).join('')")  # type: ignore[attr-defined]
    return ESCAPES.sub("", str(sent))


def open_page(driver: object, url: str) -> None:
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",  # type: ignore[attr-defined]
                           {"source": KEEP_THE_SCREEN})
    driver.get(url)  # type: ignore[attr-defined]


def press(driver: object, keys: str) -> None:
    from selenium.webdriver.common.by import By

    textarea = driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")  # type: ignore[attr-defined]
    textarea.send_keys(keys)


def test_the_page_shows_the_lineage_and_a_key_reaches_the_app(served: Served,
                                                              tmp_path: Path) -> None:
    with chromium(tmp_path / "profile", width=1400, height=900) as driver:
        open_page(driver, served.url)
        wait_for(driver, lambda d: "lineage" in screen(d) and "v7" in screen(d)
                 and "v5" in screen(d), "the app's lineage")
        wait_for(driver, lambda d: "hint" in screen(d), "the footer's keys that steer")
        press(driver, "p")  # no run is live: the app queues the pause for the next run
        deadline = time.monotonic() + WAIT_S
        while not queued(served.session) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [q.command.__class__.__name__ for q in queued(served.session)] == ["Pause"]
        wait_for(driver, lambda d: "pause queued" in screen(d), "the app saying so")
        if shots := os.environ.get("AVO_SCREENSHOTS"):  # docs/serve.png is made this way
            driver.save_screenshot(str(Path(shots) / "serve.png"))


def test_a_read_only_page_has_no_key_that_steers(read_only: Served, tmp_path: Path) -> None:
    with chromium(tmp_path / "profile", width=1400, height=900) as driver:
        open_page(driver, read_only.url)
        wait_for(driver, lambda d: "lineage" in screen(d) and "v7" in screen(d),
                 "the app's lineage")
        press(driver, "p")
        press(driver, "r")
        press(driver, "?")  # the help, after p and r were handled: keys are taken in order
        wait_for(driver, lambda d: "avo: keys" in screen(d), "the help")
        shown = screen(driver)
        assert "the score chart" in shown and "pause the run" not in shown
        assert "roll the head back" not in shown
        assert "hint" not in shown and "tries" in shown  # the footer: no key that steers
        assert queued(read_only.session) == []


def test_the_page_follows_a_run_that_another_process_makes(session: Session, worker: Worker,
                                                           tmp_path: Path) -> None:
    """A tuner run live in this process (the session's writer); the page, served from
    another, shows it running and its attempts as they come, as avo attach does."""
    live = start(session, worker, max_steps=3)
    server = serve(session.directory.parent, name=session.name)
    try:
        with chromium(tmp_path / "profile", width=1400, height=900) as driver:
            open_page(driver, server.url)
            wait_for(driver, lambda d: "running" in screen(d), "the run's status")
            seen = len(live.kinds("attempt"))
            wait_for(driver, lambda d: f"a{seen + 1} " in screen(d), "an attempt made since")
    finally:
        stop(server.process)
        live.engine.submit(Stop("the test is done"))
        live.finish()


@dataclass(frozen=True)
class Proc:
    pid: int
    started: int  # clock ticks after boot: with the pid, names this process and no later one

    def alive(self) -> bool:
        """Alive, and not a zombie left for its parent to reap."""
        stat = proc_stat(self.pid)
        return stat is not None and int(stat[19]) == self.started and stat[0] != "Z"

    def command(self) -> str:
        try:
            return Path(f"/proc/{self.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return ""


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def descendants(pid: int) -> set[Proc]:
    """Every process under ``pid`` now, found through /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := proc_stat(int(entry.name))) is not None:
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    found: set[Proc] = set()
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if (stat := proc_stat(child)) is not None:
            found.add(Proc(child, int(stat[19])))
            todo.extend(children.get(child, []))
    return found


def view_of(server: Served, before: set[Proc] = frozenset()) -> set[Proc]:  # type: ignore[assignment]
    """The processes of the view a page just opened: new under the server, an avo attach."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        new = descendants(server.process.pid) - before
        if any(" attach " in p.command() for p in new):
            return new
        time.sleep(0.1)
    raise AssertionError(f"no avo attach started for the page: {server.lines}")


def gone(processes: set[Proc], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while (left := [p for p in processes if p.alive()]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"{what}: still running: {[p.command() for p in left]}"


def test_a_page_left_or_closed_ends_its_view_and_sigterm_ends_the_server_and_the_rest(
        root: Path, tmp_path: Path) -> None:
    """One page left for another address (the browser keeps it in its back-forward cache,
    its websocket open, unless the page closes it), one closed, and one open, whose view
    answers nothing (stopped, as a hung app would be), when the server alone is sent
    SIGTERM: each view is its own process group, and none outlives its page or the
    server."""
    server = serve(root)
    try:
        with chromium(tmp_path / "profile", width=1000, height=700) as driver:
            open_page(driver, server.url)
            wait_for(driver, lambda d: "lineage" in screen(d), "the app's lineage")
            left = view_of(server)
            driver.get("about:blank")
            gone(left, "the view of a page left for another address")

            open_page(driver, server.url)
            wait_for(driver, lambda d: "lineage" in screen(d), "the app's lineage")
            closed = view_of(server)
            driver.switch_to.new_window("tab")
            kept = driver.current_window_handle
            driver.switch_to.window(driver.window_handles[0])
            driver.close()
            driver.switch_to.window(kept)
            gone(closed, "the view of a closed page")

            open_page(driver, server.url)
            wait_for(driver, lambda d: "lineage" in screen(d), "the app's lineage")
            hung = view_of(server)
            assert all(os.getpgid(p.pid) == p.pid != os.getpgid(server.process.pid)
                       for p in hung if " attach " in p.command())  # a group of its own
            for process in hung:
                os.kill(process.pid, signal.SIGSTOP)
            rest = descendants(server.process.pid)
            server.process.send_signal(signal.SIGTERM)  # the server alone, not its group
            assert server.process.wait(WAIT_S) == 0
            gone(rest | hung, "after the server's SIGTERM")
    finally:
        stop(server.process)


def test_a_view_whose_server_was_killed_leaves_by_itself(root: Path, tmp_path: Path) -> None:
    """SIGKILL gives the server no chance to end its views: each sees its input close."""
    server = serve(root)
    try:
        with chromium(tmp_path / "profile", width=1000, height=700) as driver:
            open_page(driver, server.url)
            wait_for(driver, lambda d: "lineage" in screen(d), "the app's lineage")
            view = view_of(server)
            server.process.kill()
            server.process.wait(WAIT_S)
            gone(view, "after the server was killed")
    finally:
        stop(server.process)


def test_another_address_is_warned_about_and_a_failed_listen_is_one_line(root: Path) -> None:
    """192.0.2.1 is a documentation address no machine has: the warning comes before the
    server tries it, then the failure to listen there is one line (nothing ever listens)."""
    done = subprocess.run(
        [sys.executable, "-m", "avo_tui", "--sessions-dir", str(root), "serve", "demo",
         "--host", "192.0.2.1", "--port", "0"], capture_output=True, text=True, timeout=WAIT_S,
        stdin=subprocess.DEVNULL)
    warning, error = done.stderr.strip().splitlines()
    assert warning.startswith("avo serve: warning: --host 192.0.2.1 listens beyond this machine")
    assert "token unencrypted" in warning and "ssh -L 8000:127.0.0.1:8000" in warning
    assert error.startswith("avo: error: cannot listen on 192.0.2.1:0") and done.returncode == 1
    assert "token=" not in done.stdout  # no address was printed: nothing listened


@pytest.mark.parametrize(("host", "alone"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("gpu-box", False)])
def test_only_this_machines_addresses_go_unwarned(host: str, alone: bool) -> None:
    assert loopback(host) is alone


def test_serving_nothing_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from avo_tui.cli import main

    assert main(["--sessions-dir", str(tmp_path), "serve"]) == 1
    assert capsys.readouterr().err == (f"avo: error: no session in {tmp_path} to serve: start "
                                       "one with avo run\n")


def test_without_the_serve_extra_it_says_what_to_install(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from avo_tui.cli import main

    for name in [n for n in sys.modules if n.startswith("avo_tui.web")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # as if not installed
    assert main(["--sessions-dir", str(root), "serve", "demo"]) == 1
    assert capsys.readouterr().err == ("avo: error: avo serve needs textual-serve, which is "
                                       "not installed: pip install 'avo-tui[serve]' "
                                       "(scripts/setup installs it)\n")
