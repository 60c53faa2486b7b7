"""avo-tui as a user installs it: the wheel and the sdist built from this checkout, the wheel
installed into a fresh virtual environment, and ``avo`` run from a folder that is not the
checkout, with a home of its own (so nothing is written to the real one).

The fresh environment gets the wheel alone (``pip install --no-deps``); its dependencies
(torch, textual ...) come from the environment running the tests, through a ``.pth`` file, so
nothing heavy is downloaded. The checkout is not on its path: the test checks that
``avo_tui`` is imported from the fresh environment.

Checked to fail without the feature: with the ``"avo_tui._data.knowledge"`` line of
pyproject.toml's package-data removed, the wheel holds no note, and the contents test fails
(knowledge files missing) as does the installed run (``avo kb search`` reports the knowledge
folder missing); with the ``package-dir`` mapping removed, the build itself fails (the data
packages have no folder). ``test_missing_data_is_an_error`` fails if a missing knowledge base
reads as an empty one again ("no section matches").
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from avo_tui._data import KERNELS, KNOWLEDGE, TARGETS, data_folder
from avo_tui.cli import main

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

needs_build = pytest.mark.skipif(
    importlib.util.find_spec("build") is None or importlib.util.find_spec("setuptools") is None,
    reason="the build tools are missing (pip install -e '.[dev]' brings build and setuptools)",
)


def shipped(folder: str) -> list[str]:
    """The checkout's files of ``folder`` that must ship, relative to the repository."""
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and not any(part.startswith((".", "__")) for part in path.parts)
    )


@dataclass
class Installed:
    wheel: Path
    sdist: Path
    python: Path  # the fresh environment's interpreter
    avo: Path
    site: Path  # its site-packages, where the wheel went
    home: Path
    work: Path  # an empty folder outside the checkout, where commands run
    env: dict[str, str]

    def run(self, *argv: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in argv], cwd=self.work, env=self.env,
                              capture_output=True, text=True, check=False)

    def avo_ok(self, *argv: str | Path) -> subprocess.CompletedProcess[str]:
        done = self.run(self.avo, *argv)
        assert done.returncode == 0, f"avo {' '.join(map(str, argv))}:\n{done.stdout}{done.stderr}"
        return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("packaging")
    dist = base / "dist"
    # Both kinds at once: build makes the sdist, then the wheel from the unpacked sdist, so the
    # wheel also proves the sdist is complete. No isolation: the build tools are already here.
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                            str(dist), str(ROOT)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, f"python -m build failed:\n{built.stdout[-4000:]}{built.stderr}"
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")

    prefix = base / "venv"
    venv.EnvBuilder(with_pip=False).create(prefix)
    python = prefix / "bin" / "python"
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                          "--no-deps", "--no-index", "--quiet", str(wheel)],
                         capture_output=True, text=True, check=False)
    assert pip.returncode == 0, f"pip install failed:\n{pip.stdout}{pip.stderr}"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True).stdout.strip())
    # After the install, so that pip does not see this environment's avo-tui there.
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site / "zz-avo-test-dependencies.pth").write_text("".join(f"{p}\n" for p in ours))

    home = base / "home"
    work = base / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AVO_", "XDG_", "PYTHON", "VIRTUAL_ENV", "ANTHROPIC_"))}
    env |= {"HOME": str(home), "COLUMNS": "160", "PATH": f"{prefix / 'bin'}{os.pathsep}"
            f"{env.get('PATH', '')}"}
    yield Installed(wheel, sdist, python, prefix / "bin" / "avo", site, home, work, env)


@needs_build
def test_the_wheel_and_the_sdist_carry_the_seeds_the_knowledge_base_and_the_targets(
    installed: Installed,
) -> None:
    kernels, knowledge, targets = shipped("kernels"), shipped("knowledge"), shipped("targets")
    assert "kernels/cpu/attention.c" in kernels and "knowledge/ptx-reference.md" in knowledge
    assert {"targets/README.md", "targets/rmsnorm.py", "targets/rmsnorm_cpu.py",
            "targets/cpu_attention.py", "targets/mha.py", "targets/gqa.py", "targets/gqa_4.py",
            "targets/mha_d64.py"} <= set(targets)
    data = kernels + knowledge + targets
    in_wheel = set(zipfile.ZipFile(installed.wheel).namelist())
    missing = [f for f in data if f"avo_tui/_data/{f}" not in in_wheel]
    assert not missing, f"left out of the wheel: {missing}"
    assert {"avo_tui/py.typed", "avo_tui/tui/app.tcss", "avo_tui/__main__.py",
            "avo_tui/operators/agent/standing.toml"} <= in_wheel

    with tarfile.open(installed.sdist) as sdist:
        in_sdist = {name.partition("/")[2] for name in sdist.getnames()}
    missing = [f for f in data if f not in in_sdist]
    assert not missing, f"left out of the sdist: {missing}"


@needs_build
def test_every_package_of_the_checkout_is_in_the_wheel(installed: Installed) -> None:
    """pyproject.toml lists the packages by hand (the data mapping needs it): a new one must be
    added there, or the wheel would ship without it."""
    packages = sorted(init.relative_to(ROOT).as_posix()
                      for init in (ROOT / "avo_tui").rglob("__init__.py"))
    in_wheel = set(zipfile.ZipFile(installed.wheel).namelist())
    missing = [p for p in packages if p not in in_wheel]
    assert not missing, f"add these packages to [tool.setuptools] packages: {missing}"


@needs_build
def test_the_installed_avo_works_from_any_folder(installed: Installed) -> None:
    where = installed.run(installed.python, "-c", "import avo_tui; print(avo_tui.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(installed.site), where.stdout + where.stderr

    assert installed.avo_ok("--version").stdout.strip() == f"avo-tui {VERSION}"
    assert installed.run(installed.python, "-m", "avo_tui", "--version").stdout.strip() == (
        f"avo-tui {VERSION}")

    found = json.loads(installed.avo_ok("kb", "search", "setmaxnreg", "--json").stdout)
    assert any(h["ref"].startswith("ptx-reference.md#setmaxnreg") for h in found["hits"]), found

    seed = installed.site / "avo_tui" / "_data" / "kernels" / "cpu" / "attention.c"
    scored = json.loads(installed.avo_ok("eval", seed, "--quick", "--json").stdout)
    assert scored["target"] == "cpu-attention" and scored["correct"] is True
    # A shipped target file, by its name: its seed (../kernels/cpu/rmsnorm.c) is the install's.
    names = [line.split()[0] for line in installed.avo_ok("targets", "list").stdout.splitlines()]
    assert {"rmsnorm", "rmsnorm-cpu"} <= set(names)
    # the attention targets, shipped files too, listed first
    assert names[:5] == ["cpu-attention", "mha", "gqa", "gqa-4", "mha-d64"]
    scored = json.loads(installed.avo_ok("eval", "--target", "rmsnorm-cpu", "--quick",
                                         "--no-baseline", "--json").stdout)
    assert (scored["target"], scored["unit"], scored["correct"]) == ("rmsnorm-cpu", "GB/s", True)

    installed.avo_ok("run", "--target", "cpu-attention", "--session", "s1", "--headless",
                     "--quick", "--max-steps", "1", "--operator", "tuner")
    # Not in a checkout: the sessions go to the per-user data folder, which says so.
    sessions = installed.home / ".local" / "share" / "avo-tui" / "sessions"
    assert (sessions / "s1" / "session.json").is_file()
    listed = installed.avo_ok("sessions", "list")
    assert listed.stderr.strip() == f"sessions in {sessions}"
    assert listed.stdout.split("\n")[1].split()[:2] == ["s1", "cpu-attention"]
    assert not list(installed.work.iterdir())  # nothing written where avo was run


@needs_build
def test_missing_data_is_an_error(installed: Installed) -> None:
    """An install that lost its data says so in one line, instead of finding nothing."""
    data = installed.site / "avo_tui" / "_data"
    for kind in (KERNELS, KNOWLEDGE):
        (data / kind).rename(data / f"{kind}.away")
    try:
        searched = installed.run(installed.avo, "kb", "search", "setmaxnreg")
        ran = installed.run(installed.avo, "run", "--target", "cpu-attention", "--session", "s2",
                            "--headless", "--quick", "--max-steps", "1", "--operator", "tuner")
    finally:
        for kind in (KERNELS, KNOWLEDGE):
            (data / f"{kind}.away").rename(data / kind)
    for done, kind in ((searched, KNOWLEDGE), (ran, KERNELS)):  # a run needs its seed first
        assert done.returncode == 1
        assert done.stderr.startswith(f"avo: error: the {kind} folder that comes with avo-tui "
                                      "is missing"), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


# -- in the checkout, no build -----------------------------------------------------------------


def test_a_checkout_finds_its_top_level_folders() -> None:
    assert data_folder(KERNELS) == ROOT / "kernels"
    assert data_folder(KNOWLEDGE) == ROOT / "knowledge"
    assert data_folder(TARGETS) == ROOT / "targets"


def test_a_knowledge_override_that_is_not_a_folder_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AVO_KNOWLEDGE_DIR", str(tmp_path / "none"))
    assert main(["kb", "search", "setmaxnreg"]) == 1
    err = capsys.readouterr().err
    assert err == (f"avo: error: the knowledge folder {tmp_path / 'none'} ($AVO_KNOWLEDGE_DIR) "
                   "is not a folder\n")
