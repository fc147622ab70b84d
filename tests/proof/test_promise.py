"""The default decision: unresolved pairs, the intersection test, locked alpha across versions."""

from __future__ import annotations

import itertools
import random

import pytest

from tokenproof.analytics.proof import sequential as sq
from tokenproof.analytics.proof.promise import PromiseTest, expected_comparisons, meaning


def _run(probs, seed, params=None, alpha=None, n=600):
    rng = random.Random(seed)
    test = PromiseTest(params or sq.Params(), alpha)
    for _ in range(n):
        if test.update(rng.choices(sq.ALL_OUTCOMES, probs)[0]) is not None:
            break
    return test


def test_judge_failures_on_disputed_pairs_never_turn_a_keep_into_a_switch():
    """Dropping failed judge calls silently turned a KEEP after 30 into a SWITCH after 92."""
    worse = (0.05, 0.70, 0.25, 0.0)  # win, tie, loss, unresolved: truly worse
    failing = (0.05 * 0.4, 0.70, 0.25 * 0.4, 0.6 * 0.30)  # the judge fails on 60% of the non-tie pairs
    for seed in range(30):
        assert _run(worse, seed).decision == sq.KEEP
        assert _run(failing, seed).decision in {sq.KEEP, sq.UNINFORMATIVE}


def test_above_the_unresolved_cap_the_route_is_uninformative_never_switched():
    test = _run((0.3, 0.45, 0.0, 0.25), 1)
    assert test.decision == sq.UNINFORMATIVE and test.tally.n == 30
    assert test.state()["unresolved_share"] > 0.2


def test_a_candidate_that_matches_switches_and_one_that_never_wins_does_not():
    matching = [_run((0.05, 0.90, 0.05, 0.0), s).decision for s in range(40)]
    assert matching.count(sq.SWITCH) >= 36
    never_wins = [_run((0.0, 0.90, 0.10, 0.0), s).decision for s in range(40)]
    assert never_wins.count(sq.SWITCH) <= 3


def test_alpha_is_spent_across_versions_of_a_group():
    """Ten restarts at full alpha gave a 24-37% chance of at least one false switch."""
    alphas = [sq.group_alpha(0.05, k) for k in range(1, 1000)]
    assert sum(alphas) < 0.05 and alphas[0] == pytest.approx(0.0304, abs=1e-4)
    assert all(a > b for a, b in itertools.pairwise(alphas))
    # ten restarts at the boundary: the chance of any false switch stays below alpha
    boundary = (0.0, 0.85, 0.15, 0.0)
    rng = random.Random(5)
    any_false = 0
    for _trial in range(25):
        any_false += any(_run(boundary, rng.random(), alpha=sq.group_alpha(0.05, k), n=200).decision == sq.SWITCH
                         for k in range(1, 11))
    assert any_false <= 3


def test_the_plain_sentence_and_the_simulated_sample_size():
    sentence = meaning()
    assert sentence.startswith("SWITCH means:") and "15%" in sentence and "45%" in sentence
    mean, p90 = expected_comparisons()
    assert 30 <= mean <= p90 <= 600
