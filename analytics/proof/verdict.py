"""`tokenproof verdict`: the live sequential decision over comparisons judged elsewhere.

Contract (other tools call it; keep it stable):

- input: one JSON object per line, in arrival order, routes interleaved:
  ``{"route": "<id>", "outcome": "win" | "tie" | "loss" | "unresolved"}`` (the candidate's result
  against the baseline; unresolved = the judge could not settle the pair, counted against the
  candidate as the decision rule says). Other fields are ignored, except ``"format_valid": false``,
  which makes the comparison a loss whatever its outcome. Blank lines are skipped.
- output: one JSON object per route (in order of first appearance), one per line, with ``route``,
  ``decision`` (switch | keep | undecided | uninformative), ``n`` (comparisons read when the
  decision was taken, or all read if undecided), ``wins``, ``ties``, ``losses``, ``unresolved``,
  ``meaning`` (the plain sentence of what switch means) and extras (rates, confidence sequence,
  e-values, thresholds, the line the decision was taken on, lines ignored after it). The sentence
  is also printed once on stderr.
- the decision is the one the live system takes reading the lines in order and stopping at the first
  decision: later lines of a decided route are ignored. The default test (``promise``: loss rate and
  preference, both anytime-valid) keeps the false-switch rate at or below alpha under that
  continuous monitoring; ``--method sprt`` (Wald) bounds it by alpha / (1 - beta).
- a malformed line is an error naming its line number; the command then exits with status 2 and
  prints nothing on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from tokenproof.analytics.proof.promise import PromiseTest, meaning
from tokenproof.analytics.proof.sequential import ALL_OUTCOMES, LOSS, SPRT, UNDECIDED, EProcess, Params

__all__ = ["VerdictError", "decide", "parse_lines", "verdict"]


class VerdictError(ValueError):
    """A malformed input line; ``line`` is its 1-based number."""

    def __init__(self, line: int, reason: str):
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Observation:
    line: int
    route: str
    outcome: str  # after the format gate: format_valid false -> loss
    format_invalid: bool


def parse_lines(lines: Iterable[str]) -> Iterator[Observation]:
    """Validate and yield every observation; raise :class:`VerdictError` on the first bad line."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise VerdictError(number, f"not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise VerdictError(number, "expected a JSON object")
        route = item.get("route")
        if isinstance(route, bool) or not isinstance(route, (str, int)) or str(route) == "":
            raise VerdictError(number, "missing or invalid \"route\" (a non-empty string)")
        format_valid = item.get("format_valid")
        if format_valid is not None and not isinstance(format_valid, bool):
            raise VerdictError(number, "\"format_valid\" must be true or false")
        outcome = item.get("outcome")
        if isinstance(outcome, str):
            outcome = outcome.strip().lower()
        if outcome not in ALL_OUTCOMES:
            if format_valid is False and outcome is None:
                outcome = LOSS
            else:
                raise VerdictError(number, "\"outcome\" must be one of win, tie, loss, unresolved "
                                           f"(got {item.get('outcome')!r})")
        invalid = format_valid is False
        yield Observation(number, str(route), LOSS if invalid else outcome, invalid)


def _new_test(method: str, params: Params):
    if method == "sprt":
        return SPRT(params)
    if method == "eprocess":
        return EProcess(params)
    return PromiseTest(params)


def decide(observations: Iterable[Observation], params: Params | None = None,
           method: str = "promise") -> list[dict]:
    """Run one sequential test per route over the observations in order; one result per route."""
    params = params or Params()
    tests: dict[str, SPRT | EProcess | PromiseTest] = {}
    decided_line: dict[str, int] = {}
    ignored: dict[str, int] = {}
    format_failures: dict[str, int] = {}
    for obs in observations:
        test = tests.get(obs.route)
        if test is None:
            test = tests[obs.route] = _new_test(method, params)
            ignored[obs.route] = 0
            format_failures[obs.route] = 0
        if test.decision is not None:
            ignored[obs.route] += 1
            continue
        format_failures[obs.route] += obs.format_invalid
        if test.update(obs.outcome) is not None:
            decided_line[obs.route] = obs.line
    results = []
    for route, test in tests.items():
        state = test.state()
        decision = test.decision or UNDECIDED
        results.append({
            "route": route, "decision": decision, "n": test.tally.n,
            "wins": test.tally.wins, "ties": test.tally.ties, "losses": test.tally.losses,
            "unresolved": test.tally.unresolved,
            **{k: v for k, v in state.items() if k not in {"decision", "n", "wins", "ties", "losses", "unresolved"}},
            "method": method, "meaning": meaning(params) if method == "promise" else (
                f"SWITCH means: the non-loss rate (win or tie) is above {params.q0:.0%} at "
                f"{1 - params.alpha:.0%} confidence (ties count as passes)"),
            "format_failures": format_failures[route],
            "decided_at_line": decided_line.get(route) if decision != UNDECIDED or route in decided_line else None,
            "ignored_after_decision": ignored[route],
            "q0": params.q0, "q1": params.q1, "alpha": params.alpha, "beta": params.beta,
            "min_n": params.n_min, "max_n": params.n_max,
        })
    return results


def verdict(stream: IO[str], params: Params | None = None, method: str = "promise") -> list[dict]:
    """Validate the whole stream first (so a bad line never leaves partial output), then decide."""
    observations = list(parse_lines(stream))
    return decide(observations, params, method)
