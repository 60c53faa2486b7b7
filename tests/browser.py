"""Headless Chromium for the tests that look at a page as a person would (the report, avo
serve), driven through selenium and Debian's chromedriver, which matches its chromium.

scripts/setup --dev installs both where apt can (CI does). Where they are missing a test is
skipped with the reason, except under CI (CI=true), where a browser test that did not run
would be a green check that checked nothing: there it fails.

Waits are on conditions of the page (a figure drawn, a text shown), never on the clock; the
limits are generous backstops for a loaded 2-core machine, not measures of speed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

T = TypeVar("T")
WAIT_S = 120.0  # a backstop against a hang, far above what a page takes on a busy machine
# Without the networking switches, headless Chromium's own background connections are refused
# on a closed network and its start slows or fails; --user-data-dir keeps runs apart.
SWITCHES = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage")


def chromium_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver), or None where either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def need_chromium() -> tuple[str, str]:
    found = chromium_paths()
    if found is None:
        reason = ("headless Chromium is not installed: scripts/setup --dev installs Debian's "
                  "chromium and chromium-driver where apt is available")
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    return found


@contextmanager
def chromium(profile: Path, width: int = 1400, height: int = 1000) -> Iterator[WebDriver]:
    """A headless Chromium window of this size, its profile in ``profile``; closed after."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = need_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for switch in (*SWITCHES, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(switch)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.set_page_load_timeout(WAIT_S)
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], T], what: str,
             timeout: float = WAIT_S) -> T:
    """``condition``'s first truthy value; fails naming ``what`` it waited for."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except TimeoutException:
        raise AssertionError(f"the page never showed {what}") from None
