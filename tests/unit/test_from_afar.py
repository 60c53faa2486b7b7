"""What a glance from afar reads (issue 53): each budget used of its limit, the running time left
until the first is spent at the rate so far, and the time since the last commit."""

from __future__ import annotations

from avo_tui.engine.budget import Budgets, Usage, budget_progress
from avo_tui.tui.widgets.status import StatusFacts, status_text


def test_each_budget_is_shown_used_of_its_limit_and_the_first_to_run_out_sets_the_eta() -> None:
    usage = Usage(steps=10, seconds=3600.0, cost_usd=5.0, tokens=2_000_000)
    words, eta = budget_progress(usage, Budgets(max_steps=50, max_cost_usd=10.0, hours=24))
    assert words == "step 10/50 · 1.0/24 h · $5.00/$10"
    assert eta == 3600.0  # $5 an hour: the cost runs out first, before the steps (4 h)
    words, eta = budget_progress(usage, Budgets(max_tokens=3_000_000))
    assert words == "2.0M/3M tok" and eta == 1800.0


def test_no_budget_or_no_rate_yet_gives_no_eta() -> None:
    assert budget_progress(Usage(), Budgets()) == ("", None)
    assert budget_progress(Usage(), Budgets(max_steps=5)) == ("step 0/5", None)  # no rate yet
    assert budget_progress(Usage(steps=9, seconds=90.0), Budgets(max_steps=5))[1] == 0.0


def test_the_status_bar_reads_them_and_drops_them_before_the_best() -> None:
    facts = StatusFacts(session="s", target="mha", operator="tuner", state="running", step=10,
                        seconds=3600.0, best="v3 700 TFLOP/s", tokens=0, cost_usd=0.0,
                        device="H200", attached=False, budget="step 10/50",
                        eta_s=4 * 3600.0, since_commit_s=42 * 60.0)
    wide = status_text(facts).plain
    assert "last commit 42m00s ago" in wide and "step 10/50" in wide and "ends in ~4h00m" in wide
    narrow = status_text(facts, width=60).plain
    assert "best v3" in narrow and "ends in" not in narrow
