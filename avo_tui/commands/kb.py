"""``avo kb``: search and read the knowledge base the agent consults, from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape

from ..knowledge import KnowledgeBase, configured_folders
from . import MOST_SHOWN, Subcommands, add_command, bounded_int

EPILOG = """\
The knowledge base is the notes installed with avo-tui (knowledge/ of the checkout when avo
runs from one), or $AVO_KNOWLEDGE_DIR instead; then the folders listed in the settings file
([knowledge] folders = ["~/notes"] in $AVO_SETTINGS or ~/.config/avo-tui/settings.toml), then any
--knowledge DIR. Every markdown file is split at its headings; a search ranks those sections
with BM25, a heading match counting more than the text. Files of your own folders are named
FOLDER/FILE.md.

examples:
  avo kb search "how do I give the consumer warpgroups more registers"
  avo kb search "TMA box size limit" --limit 3 --json
  avo kb show hopper-tma.md                    a whole file
  avo kb show "ptx-reference.md#setmaxnreg"    the section whose heading says so
  avo kb list
"""


def register(commands: Subcommands) -> None:
    kb = add_command(
        commands, "kb", cmd_list, "search and read the agent's knowledge base",
        "Search and read the knowledge base the agent consults: notes on Hopper and Blackwell "
        "attention kernels, PTX, NVRTC, profiling and this project's kernel contract.",
        EPILOG,
    )
    kb.set_defaults(json=False, knowledge=None)
    sub = kb.add_subparsers(title="commands", metavar="COMMAND")

    p = add_command(sub, "search", cmd_search, "ranked sections for a question or keywords",
                    "Print the sections that best answer QUERY, best first, each as "
                    "FILE#heading with its score and a snippet (feed the reference to "
                    "avo kb show).", EPILOG)
    p.add_argument("query", nargs="+", help="a question or keywords (quote it or not)")
    p.add_argument("--limit", type=bounded_int(MOST_SHOWN), default=5, metavar="N",
                   help="at most N sections (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    _knowledge_option(p)

    p = add_command(sub, "show", cmd_show, "print a file or one section of it",
                    "Print FILE or FILE#heading. The heading may be given exactly (any case), "
                    "as a markdown anchor (#setmaxnreg-moving-registers) or as a part that "
                    "only one heading of the file contains.", EPILOG)
    p.add_argument("ref", metavar="FILE[#heading]", help="e.g. hopper-tma.md#swizzle")
    p.add_argument("--raw", action="store_true",
                   help="the markdown as written, even on a terminal")
    _knowledge_option(p)

    p = add_command(sub, "list", cmd_list, "the files, their titles and sections",
                    "One line per knowledge file: its name (as search and show use it), its "
                    "title and how many sections it has.", EPILOG)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    _knowledge_option(p)


def _knowledge_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--knowledge", type=Path, action="append", metavar="DIR",
                        help="add a folder of your own markdown notes (repeat for several)")


def _knowledge(args: argparse.Namespace) -> KnowledgeBase:
    return KnowledgeBase(configured_folders(args.knowledge or ()))


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    hits = _knowledge(args).search(query, args.limit)
    if args.json:
        print(json.dumps({"query": query, "hits": [
            {"rank": rank, "ref": hit.section.ref, "file": hit.section.file,
             "heading": hit.section.heading, "score": round(hit.score, 3),
             "snippet": hit.snippet}
            for rank, hit in enumerate(hits, 1)
        ]}, indent=2, ensure_ascii=False))
    else:
        console = Console(highlight=False)
        for rank, hit in enumerate(hits, 1):
            console.print(f"{rank:>2}  [bold]{escape(hit.section.ref)}[/]  "
                          f"[dim]{hit.score:.1f}[/]", soft_wrap=True)
            console.print(f"    {escape(' '.join(hit.snippet.split()))}", soft_wrap=True)
    if not hits:
        print(f"no section matches {query!r}", file=sys.stderr)
        return 1
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    section = _knowledge(args).read(args.ref)
    if args.raw or not sys.stdout.isatty():
        print(section.text)
    else:
        Console().print(Markdown(section.text))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    knowledge = _knowledge(args)
    outline = knowledge.outline()
    rows = [{"file": o.file, "title": o.title, "sections": o.sections, "path": str(o.path)}
            for o in outline]
    if args.json:
        print(json.dumps({"folders": [str(f) for f in knowledge.folders], "files": rows},
                         indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("the knowledge base has no files; folders: "
              + ", ".join(str(f) for f in knowledge.folders), file=sys.stderr)
        return 1
    width = max(len(o.file) for o in outline)
    for o in outline:
        print(f"{o.file:<{width}}  {o.sections:>3}  {o.title}")
    return 0
