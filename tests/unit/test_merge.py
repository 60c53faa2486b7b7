"""store/merge.py: a lane's change carried onto the version that overtook it (a rebase)."""

from __future__ import annotations

from avo_tui.store.merge import merge_files

BASE = "#define SLOW_1 1\n#define SLOW_2 1\n#define SLOW_3 1\nbody\n"


def test_changes_to_neighbouring_lines_both_stand() -> None:
    """Lane 1 took share 1 out (and had merged share 2 from an older head); the best took
    shares 2 and 3 out and added a line: the merge has all three out and the new line."""
    mine = BASE.replace("SLOW_1 1", "SLOW_1 0").replace("SLOW_2 1", "SLOW_2 0")
    theirs = BASE.replace("SLOW_2 1", "SLOW_2 0").replace("SLOW_3 1", "SLOW_3 0") + "tail\n"
    merged = merge_files({"k.c": BASE}, {"k.c": mine}, {"k.c": theirs})
    assert merged.conflicts == []
    assert merged.files == {"k.c": "#define SLOW_1 0\n#define SLOW_2 0\n#define SLOW_3 0\n"
                                   "body\ntail\n"}


def test_a_line_both_sides_changed_otherwise_is_a_conflict_left_as_the_best_has_it() -> None:
    mine, theirs = BASE.replace("SLOW_3 1", "SLOW_3 5"), BASE.replace("SLOW_3 1", "SLOW_3 0")
    merged = merge_files({"k.c": BASE, "a.h": "x\n"}, {"k.c": mine, "a.h": "y\n"},
                         {"k.c": theirs, "a.h": "x\n"})
    assert merged.conflicts == ["k.c"]
    assert merged.files == {"k.c": theirs, "a.h": "y\n"}


def test_files_added_on_one_side_are_kept_and_an_insertion_lands_in_place() -> None:
    mine = "first\n" + BASE
    theirs = BASE.replace("body\n", "body\nmore\n")
    merged = merge_files({"k.c": BASE}, {"k.c": mine, "new.h": "n\n"}, {"k.c": theirs})
    assert merged.conflicts == []
    assert merged.files == {"k.c": "first\n" + theirs, "new.h": "n\n"}
