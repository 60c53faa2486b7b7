#!/usr/bin/env python3
"""How long ``avo report`` takes on a week's session, and how long its page takes to draw.

    python benchmarks/report_scale.py --json                  # 500 versions, 5,000 attempts
    python benchmarks/report_scale.py --quick --json          # 50 versions, 500 attempts
    python benchmarks/report_scale.py --screenshot docs/report.png   # and a picture of it

The session is built through the store's own API (Session.create, record_attempt, commit,
rollback, append) as a run writes it: ten attempts a version with the outcomes a search has
(slower, within noise, unchanged, incorrect, compile errors, first readings, the gate's
re-evaluation), each gate's log with its gain and standard error, an agent step per version
with its cost and twenty tool calls, a hint every 25 versions, guidance every 100, and a
rollback every 40 that starts a side branch. Its clock is a simulated week: the store's
``time.time`` is the builder's clock while it writes, so the attempts spread over seven days
as a week's do (the store takes its record times from ``time.time``). The scores climb with
the jumps the AVO paper's figure has, at v8, v13, v20, v30 and v33.

Prints (one JSON object with --json):

    build_s            building the session (not part of the report)
    report_s           avo report's work: reading the session and writing the page, best of 3
    page_bytes         the page's size
    draw_s             headless Chromium: from opening the file to every figure drawn, by
                       the page's own clock (performance.now() from the navigation's start)
    click_ms           a click on a version of the lineage until its diff and notes show
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from common.figures import print_figures

from browser import chromium, chromium_paths

from avo_tui.report import collect, render
from avo_tui.store import (
    AttemptPayload,
    GuidancePayload,
    HintPayload,
    Score,
    Session,
    StepPayload,
    ToolCallPayload,
)

WEEK_S = 7 * 24 * 3600.0
JUMPS = {8: 0.12, 13: 0.08, 20: 0.10, 30: 0.06, 33: 0.09}  # the AVO paper's figure
CONFIGS = [f"b{b}-h16-s{s}-d128-{mask}" for b, s in ((8, 1024), (4, 2048), (2, 4096),
                                                       (1, 8192)) for mask in ("full", "causal")]
BASELINES = {"cudnn": 0.90, "fa2": 0.72, "fa3": 1.02, "fa4": 0.99}
SHOT_HEIGHT = 1700  # pixels of the page in --screenshot: a PNG under 300 KB
OUTCOMES = ["slower", "slower", "within_noise", "unchanged", "incorrect", "compile",
            "slower", "not_confirmed"]


class Clock:
    """The simulated week: each tick moves it on by a step of the week."""

    def __init__(self, start: float, step: float) -> None:
        self.now, self.step = start, step

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.step * random.uniform(0.3, 1.7)


def kernel(version: int, block: int) -> dict[str, str]:
    body = "".join(f"    acc[{i}] = fmaf(q[{i}], k[{i}], acc[{i}]);  // unroll\n"
                   for i in range(120))
    return {"attention.cu": f"#define BLOCK_N {block} // avo:knob 64 128 176 192\n"
                            f"// version {version}\n__global__ void attend() {{\n{body}}}\n"}


def score(gmean: float, parent: str | None) -> Score:
    per_config = {c: gmean * (0.85 + 0.05 * i) for i, c in enumerate(CONFIGS)}
    ratios = {c: {name: rate * gmean / 600.0 for name, rate in BASELINES.items()}
              for c in CONFIGS}
    return Score(gmean, per_config, ratio=gmean / 600.0 / 0.9, baseline="cudnn",
                 ratios=ratios, chained_from=parent)


def gate_log(gmean: float, gain: float, se: float) -> str:
    configs = [{"name": c, "edge": False, "throughput": gmean,
                "baselines": {n: 600.0 * r for n, r in BASELINES.items()}} for c in CONFIGS]
    return json.dumps({"unit": "TFLOP/s", "configs": configs, "incumbent_gain": gain,
                       "incumbent_gain_se": se})


def build(directory: Path, versions: int, per_version: int) -> None:
    random.seed(58)
    clock = Clock(1_780_000_000.0, WEEK_S / (versions * (per_version - 1)))
    with mock.patch("time.time", clock):
        session = Session.create(directory, target="mha", operator="agent",
                                 seed_files=kernel(0, 128), score=score(600.0, None),
                                 host={"gpu": "NVIDIA H200 (synthetic)"})
        gmean = 600.0
        for n in range(1, versions + 1):
            head = str(session.state["head"])
            if n % 40 == 0 and n > 40:  # a rollback: the next version branches off
                head = session.rollback(f"v{random.randrange(n - 30, n - 5)}").id
            if n % 25 == 0:
                session.append(HintPayload("received", f"try BLOCK_N {176 if n % 2 else 192}"))
            if n % 100 == 0:
                session.append(GuidancePayload("set", "keep the producer warp's registers low"))
            for k in range(per_version - 2):  # then the first reading and the gate's
                clock.tick()
                outcome = OUTCOMES[k % len(OUTCOMES)]
                for t in range(2):
                    session.append(ToolCallPayload(tool="edit" if t else "evaluate",
                                                   input=f"step {n} call {k}.{t}"))
                attempt = session.record_attempt(
                    kernel(n, 64 + k), base=head, author="agent", outcome=outcome,
                    detail=f"{outcome} on {head}",
                    score=score(gmean * 0.99, head) if outcome == "slower" else None)
                session.append(AttemptPayload(attempt.id, outcome, head))
            clock.tick()
            gain = 1 + JUMPS.get(n, random.uniform(0.0002, 0.002))
            se = random.uniform(0.0005, 0.004)
            first = session.record_attempt(kernel(n, 176), base=head, author="agent",
                                           outcome="promising", detail="first reading",
                                           score=score(gmean * gain, head))
            gmean *= gain
            version = session.commit(kernel(n, 176), author="agent" if n % 7 else "tuner",
                                     message=f"v{n}: a change worth {100 * (gain - 1):.1f}%",
                                     score=score(gmean, head), attempt=first.id,
                                     cost_usd=6.5, tokens=450_000)
            session.record_attempt(kernel(n, 176), base=head, author=version.author,
                                   outcome="committed", detail=f"re-evaluation: +{gain:.3f}x",
                                   score=score(gmean, head), version=version.id,
                                   log=gate_log(gmean, gain, se))
            session.append(StepPayload(step=n, summary="committed", version=version.id,
                                       cost_usd=6.5, tokens=450_000))
        session.set_state(announce=False, status="stopped", reason="stopped from the app",
                          step=versions, usage={"steps": versions, "seconds": WEEK_S,
                                                "cost_usd": 6.5 * versions,
                                                "tokens": 450_000 * versions})
        session.close()


def report_s(directory: Path, page: Path) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        with Session.open(directory, writable=False) as session:
            page.write_text(render(collect(session)))
        best = min(best, time.perf_counter() - started)
    return best


def draw(page: Path, profile: Path, screenshot: Path | None) -> dict[str, float]:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium(profile, width=1400, height=1000) as driver:
        driver.get(page.as_uri())
        WebDriverWait(driver, 120, poll_frequency=0.02).until(
            lambda d: d.execute_script("return document.body.dataset.drawn"))
        drawn = int(driver.execute_script("return document.body.dataset.drawnMs")) / 1000
        points = driver.find_elements(By.CSS_SELECTOR, "#lineage .scatterlayer .trace .point")
        target = points[len(points) // 2]
        started = time.perf_counter()
        before = driver.find_element(By.ID, "version").get_attribute("data-version")
        ActionChains(driver).move_to_element(target).click().perform()
        WebDriverWait(driver, 60, poll_frequency=0.01).until(
            lambda d: d.find_element(By.ID, "version").get_attribute("data-version") != before)
        click = time.perf_counter() - started
        if screenshot is not None:
            driver.execute_script("window.scrollTo(0, 0)")
            driver.set_window_size(1400, SHOT_HEIGHT)  # the figures down to the lineage
            driver.save_screenshot(str(screenshot))
    return {"draw_s": round(drawn, 2), "click_ms": round(1000 * click)}


@contextmanager
def scratch(where: Path | None) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="avo-report-", dir=where))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 versions, 500 attempts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (removed)")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the page as PNG")
    parser.add_argument("--no-browser", action="store_true", help="skip the page's drawing")
    args = parser.parse_args()
    versions, per_version = (50, 10) if args.quick else (500, 10)
    with scratch(args.dir) as folder:
        started = time.perf_counter()
        build(folder / "week", versions, per_version)
        figures: dict[str, object] = {"versions": versions, "attempts": versions * per_version,
                                      "build_s": round(time.perf_counter() - started, 1)}
        page = folder / "week.html"
        figures["report_s"] = round(report_s(folder / "week", page), 2)
        figures["page_bytes"] = page.stat().st_size
        if not args.no_browser and chromium_paths() is not None:
            figures |= draw(page, folder / "profile", args.screenshot)
        elif not args.no_browser:
            print("no chromium and chromedriver here: the page's drawing is not measured",
                  file=sys.stderr)
    print_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
