#!/usr/bin/env python3
"""How fast the knowledge base answers, and how well: index build and search latency over
knowledge/ (plus any folders given), for the questions of tests/unit/test_knowledge_quality.py.

    python benchmarks/knowledge_index.py
    python benchmarks/knowledge_index.py --json --repeat 20

    files, sections, words   what the index holds
    build_ms                 the first search after a file changed: reading, splitting and
                             indexing every file (median of --repeat fresh builds)
    search_p50_ms, p99_ms    one query on the built index (every question, --repeat times)
    top1, top3               share of the questions whose answering section ranks first / in
                             the first three
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

from common import ROOT
from common.figures import print_figures

from avo_tui.knowledge import KnowledgeBase, configured_folders


def questions() -> list[tuple[str, tuple[str, ...]]]:
    spec = importlib.util.spec_from_file_location(
        "quality", ROOT / "tests" / "unit" / "test_knowledge_quality.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.QUESTIONS)


def measure(folders: list[Path], repeat: int) -> dict[str, float]:
    asked = questions()
    builds = []
    for _ in range(repeat):
        knowledge = KnowledgeBase(folders)
        start = time.perf_counter()
        knowledge.search("warmup")
        builds.append((time.perf_counter() - start) * 1e3)
    latencies, top1, top3 = [], 0, 0
    for _ in range(repeat):
        for question, _answer in asked:
            start = time.perf_counter()
            knowledge.search(question, 3)
            latencies.append((time.perf_counter() - start) * 1e3)
    for question, answers in asked:
        refs = [hit.section.ref for hit in knowledge.search(question, 3)]
        top1 += bool(refs) and refs[0] in answers
        top3 += bool(set(refs) & set(answers))
    outline = knowledge.outline()
    words = sum(len(o.path.read_text().split()) for o in outline)
    latencies.sort()
    return {
        "files": len(outline),
        "sections": sum(o.sections for o in outline),
        "words": words,
        "build_ms": round(statistics.median(builds), 2),
        "search_p50_ms": round(statistics.median(latencies), 3),
        "search_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 3),
        "questions": len(asked),
        "top1": round(top1 / len(asked), 3),
        "top3": round(top3 / len(asked), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--knowledge", type=Path, action="append", default=[], metavar="DIR",
                        help="add a folder, as avo kb does")
    parser.add_argument("--repeat", type=int, default=10, metavar="N")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(configured_folders(args.knowledge), max(1, args.repeat))
    print_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
