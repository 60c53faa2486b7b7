"""Judgements of knob values in a hint ("BLOCK_K=16 is bad", "UNROLL 8 didn't help"), each with
its verdict (issue 71: "BLOCK_K=16 is bad" was read as "BLOCK_K=16"). A bad one, or a good one
negated, is read as avoiding the values it names; a good one and a negated bad one ("is not
bad") are refused."""

from __future__ import annotations

from enum import Enum

from .hint_words import BEFORE, NEGATIONS, Token

BAD = {"bad", "worse", "worst", "slow", "slower", "slowest", "slowed", "hurt", "hurts",
       "hurting", "regressed", "regresses", "regression", "poor", "poorly", "useless",
       "pointless", "harmful", "terrible", "awful", "failed", "fails", "broken", "lost",
       "loses", "counterproductive", "away from", "dead end"}
GOOD = {"good", "better", "best", "fast", "faster", "fastest", "quick", "quicker", "great",
        "help", "helps", "helped", "helpful", "work", "works", "worked", "win", "wins", "won",
        "improved", "improves", "improvement", "gain", "gains", "promising", "speedup",
        "excellent", "nice", "fine"}
# Negations of a statement, read only as they bind a judgement ("wasn't slow", "didn't help").
STATEMENT_NEGATIONS = {"isn't", "wasn't", "aren't", "weren't", "didn't", "hasn't", "haven't",
                       "hadn't", "wouldn't", "couldn't", "isnt", "wasnt", "didnt"}
# Words a judgement is said with, which ask nothing.
JUDGING = {"was", "were", "been", "seem", "seems", "seemed", "look", "looks", "looked",
           "really", "very", "much", "quite", "too", "clearly", "definitely", "made", "makes",
           "gave", "gives", "give", "got", "far", "way", "lot", "real", "any", "that", "this",
           "things", "performance", "perf", "speed", "throughput", "score", "results", "did",
           "had", "both", "it's", "that's"}
# Between a negation and the judgement it binds: "is not a dead end", "did not really help".
BETWEEN = JUDGING | {"is", "are", "be", "it", "a", "an", "the", "at", "all", "of", "do",
                     "does", "has", "have"}
# Beside a bad judgement, the avoiding verbs agree with it ("avoid UNROLL 8, it was slow"), and
# these too where they keep a knob "away from" a value.
KEEPING_AWAY = {"keep", "keeps", "stay", "stays", "steer", "move"}


class Verdict(Enum):
    BAD = "bad"  # "is slow", "hurt", "didn't help", "no gain"
    GOOD = "good"  # "is good", "was fast"
    NOT_BAD = "not bad"  # "is not bad", "didn't hurt"


def judgements(tokens: list[Token]) -> list[tuple[Verdict, frozenset[int]]]:
    """The judgements of a clause, each with its verdict and the indices of its judging word
    and of the negation that binds it."""
    found = []
    for i, token in enumerate(tokens):
        if token.low not in BAD | GOOD or (i and (tokens[i - 1].kind == "op"
                                                  or tokens[i - 1].low in BEFORE)):
            continue  # "UNROLL=fast", "UNROLL > fast": a value (not declared), no judgement
        negation = _bound_negation(tokens, i)
        bad = token.low in BAD
        if negation is None:
            found.append((Verdict.BAD if bad else Verdict.GOOD, frozenset({i})))
        else:
            found.append((Verdict.NOT_BAD if bad else Verdict.BAD, frozenset({i, negation})))
    return found


def _bound_negation(tokens: list[Token], i: int) -> int | None:
    """The index of the negation of the judgement at ``tokens[i]`` ("was not slow"), if any."""
    j = i - 1
    while j >= 0 and tokens[j].low in BETWEEN:
        j -= 1
    return j if j >= 0 and tokens[j].low in NEGATIONS | STATEMENT_NEGATIONS else None
