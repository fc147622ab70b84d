"""tokenproof.analytics.proof: prove a cheaper model on the user's own traffic before switching.

Modules (read ``../shared/reference/proof-procedure.md`` for the why and the numbers):

- ``sequential``  Wald SPRT and the beta-binomial e-process on the non-loss rate, Clopper-Pearson
                  bound, fixed-size n, e-BH and alpha spending (pure maths, scipy)
- ``verdict``     the ``tokenproof verdict`` contract over comparisons judged elsewhere
- ``gates``       deterministic format checks (JSON, schema, tool calls, truncation, refusals)
- ``judge``       blind pairwise judge prompt (MT-Bench layout), both orders, swap-and-tie, family rule
- ``lengthctl``   length-controlled win rate (AlpacaEval 2 style)
- ``answer``      provider-neutral answer shape
- ``replay``      real openai / anthropic SDK calls tagged shadow / judge, priced by tokenproof.pricing
- ``route``       route ids and versions, per-route evidence and its summary
- ``prove``       ``tokenproof prove`` over an OpenAI Batch API file; ``report`` writes JSON + HTML
- ``store``       proof tables (migration 0200) and captured prompts of a request group
- ``mining``      request groups ranked by spend, cheaper candidates, too-small groups flagged
- ``shadow``      judged shadow runs with a spend budget; ``recommend`` decided routes -> savings
- ``api``         service router (entry point ``tokenproof.api``: proof); ``client`` and ``cli`` the CLI

May import the tokenproof core, the collector's store/auth (never its internals), scipy/numpy,
jsonschema, the provider SDKs; never the dev kit (example Batch files: ``tokenproof_devkit.examples``).
"""
