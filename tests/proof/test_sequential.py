"""The sequential decision reproduces the numbers documented for the non-loss SPRT (docs/proof.md)."""

from __future__ import annotations

import random

import pytest

from tokenproof.analytics.proof import sequential as sq


def _first_switch_n(losses: int) -> int:
    """Losses first, then non-losses: the n at which the SPRT switches."""
    test = sq.run_sequence([sq.LOSS] * losses + [sq.WIN] * 500)
    assert test.decision == sq.SWITCH
    return test.tally.n


def test_thirty_of_thirty_switches_at_thirty():
    test = sq.run_sequence([sq.WIN] * 15 + [sq.TIE] * 15)
    assert (test.decision, test.tally.n) == (sq.SWITCH, 30)


@pytest.mark.parametrize("losses,n", [(0, 30), (1, 38), (2, 49), (3, 60)])
def test_losses_delay_the_switch_as_documented(losses, n):
    assert _first_switch_n(losses) == n


def test_no_decision_before_min_n_even_on_a_streak_of_losses():
    test = sq.SPRT()
    for _ in range(29):
        assert test.update(sq.LOSS) is None
    assert test.update(sq.LOSS) == sq.KEEP
    assert test.tally.n == 30


def test_cap_gives_undecided():
    params = sq.Params(n_max=60)
    # alternate so that the log-likelihood ratio hovers between the boundaries
    pattern = ([sq.WIN] * 9 + [sq.LOSS]) * 10
    test = sq.run_sequence(pattern, params)
    assert test.decision == sq.UNDECIDED and test.tally.n == 60


def _simulate(q: float, runs: int, seed: int, method: str = "sprt") -> tuple[float, float]:
    rng = random.Random(seed)
    switches = total_n = 0
    for _ in range(runs):
        test = sq.run_sequence((sq.WIN if rng.random() < q else sq.LOSS for _ in range(10_000)),
                               method=method)
        switches += test.decision == sq.SWITCH
        total_n += test.tally.n
    return switches / runs, total_n / runs


def test_switch_probabilities_match_the_procedure_by_simulation():
    # documented: 0.004 at 0.80, 0.046 at 0.85, 0.41 at 0.90, 0.975 at 0.95, 0.999 at 0.97
    p80, _ = _simulate(0.80, 2000, 1)
    p85, n85 = _simulate(0.85, 4000, 2)
    p90, _ = _simulate(0.90, 2000, 3)
    p95, n95 = _simulate(0.95, 2000, 4)
    assert p80 < 0.015
    assert 0.035 <= p85 <= 0.057
    assert 0.36 <= p90 <= 0.46
    assert p95 >= 0.96
    assert 36 <= n85 <= 84 and 36 <= n95 <= 84


def test_false_switch_rate_under_continuous_monitoring_stays_below_alpha():
    """Every comparison is looked at (the live system): at q = q0 the SPRT switches <= alpha."""
    rate, _ = _simulate(0.85, 3000, 11)
    assert rate <= 0.05 + 0.008  # alpha plus ~2 standard errors of the simulation


def test_naive_peeking_with_a_fixed_interval_inflates_false_switches():
    """The contrast the procedure warns about: re-checking a 95% Wilson bound after every comparison."""
    from math import sqrt
    rng = random.Random(5)
    z = 1.6449
    runs, wrong = 600, 0
    for _ in range(runs):
        k = 0
        for n in range(1, 301):
            k += rng.random() < 0.85
            if n >= 30:
                p = k / n
                centre = (p + z * z / (2 * n)) / (1 + z * z / n)
                half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
                if centre - half > 0.85:
                    wrong += 1
                    break
    assert wrong / runs > 0.12  # documented 21.6% up to n = 300


def test_eprocess_is_anytime_valid_at_the_boundary():
    rate, _ = _simulate(0.85, 800, 21, method="eprocess")
    assert rate <= 0.05 + 0.015
    power, _ = _simulate(0.97, 300, 22, method="eprocess")
    assert power >= 0.95


def test_reported_rates_and_clopper_pearson_bound():
    tally = sq.Tally(wins=10, ties=20, losses=0)
    summary = tally.summary()
    assert summary["tie_adjusted_win_rate"] == pytest.approx(20 / 30, abs=1e-4)
    assert sq.clopper_pearson_lower(30, 30) == pytest.approx(0.905, abs=0.001)
    assert sq.clopper_pearson_lower(29, 30) == pytest.approx(0.851, abs=0.001)
    # the reported bound is the confidence sequence: below the fixed-n bound computed at the stop
    assert summary["non_loss_lower_bound"] < 0.905


def test_the_printed_bound_is_valid_after_stopping():
    """57/60 printed 0.876 (Clopper-Pearson at the stopping time), above a q0 of 0.85."""
    assert sq.clopper_pearson_lower(57, 60) == pytest.approx(0.876, abs=0.001)
    assert 1 - sq.upper_bound(3, 60, 0.05) == pytest.approx(0.833, abs=0.001)  # the reported, anytime-valid bound
    assert sq.Tally(wins=20, ties=37, losses=3).summary()["non_loss_lower_bound"] == pytest.approx(0.833, abs=0.001)
    low, high = sq.mixture_cs(57, 60, 0.05)
    assert low < 0.85 < sq.clopper_pearson_lower(57, 60) and high > 0.95
    # time-uniform coverage: over whole streams at q = 0.86, the sequence excludes q rarely
    import random
    misses = 0
    for seed in range(200):
        rng = random.Random(seed)
        k = 0
        for n in range(1, 301):
            k += rng.random() < 0.86
            if n % 10 == 0 and not (1 - sq.upper_bound(n - k, n, 0.05) <= 0.86):
                misses += 1
                break
    assert misses <= 10


def test_fixed_size_test_needs_more_than_the_sprt_on_average():
    n_fixed = sq.fixed_sample_size()
    _, mean_n = _simulate(0.95, 1000, 31)
    assert n_fixed > mean_n


def test_e_bh_controls_the_portfolio():
    # three strong routes and many null routes with e-values around 1: only the strong ones pass
    e_values = [400.0, 250.0, 90.0] + [1.0, 0.5, 2.0, 19.9, 0.1] * 4
    chosen = sq.e_bh(e_values, 0.05)
    assert chosen[:3] == [True, True, False] or chosen[:2] == [True, True]
    assert not any(chosen[3:])
    assert sq.alpha_spending(10, 0.05) == pytest.approx(0.005)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="q0 < q1"):
        sq.Params(q0=0.95, q1=0.9)
    with pytest.raises(ValueError, match="n_max"):
        sq.Params(n_min=50, n_max=40)
