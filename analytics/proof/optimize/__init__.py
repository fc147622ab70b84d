"""Prompt optimisation for a route's candidate model, with an honest held-out figure (docs/optimize.md).

- :mod:`.splits`: the route's real prompts split once (content hash + logged seed) into optimise /
  select / held-out sets; duplicates dropped; membership never moves when prompts are added.
- :mod:`.check`: a deterministic reference-guided check usable as the pipeline's judge where answers
  are checkable (a numeric final answer); an unparseable answer counts against the candidate.
- :mod:`.ledger`: the optimisation's spend (tokens, USD where priced, unpriced calls counted) and
  its budget; every call is tagged as experiment traffic.
- :mod:`.scoring`: a prompt variant scored on one set through the proof engine's one comparison
  pipeline (gates, degenerate gate, judge in both orders); match rates with exact intervals.
- :mod:`.propose` and :mod:`.fewshot`: system prompts proposed by an optimiser model from the
  candidate's losing cases; few-shot demonstrations bootstrapped from baseline answers under a
  token budget.
- :mod:`.search`: the rounds on the optimise set, the choice on the select set, the held-out
  confirmation, and the new route version the chosen prompt becomes.
- :mod:`.report`, :mod:`.cli`, :mod:`.api`: the report (search figures apart from held-out ones),
  ``tokenproof optimize`` and ``/api/v1/optimize-runs``.

May import the proof engine and the core; nothing of the proof engine imports this package.
"""
