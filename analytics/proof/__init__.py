"""tokenproof.analytics.proof: prove a cheaper model on the user's own traffic before switching.

Modules (``docs/proof.md`` has the why and the numbers):

- ``sequential``  outcomes, parameters, Wald SPRT and the beta-binomial e-process on the non-loss
                  rate, confidence sequences, alpha per group version, e-BH (pure maths, scipy)
- ``promise``     the default decision: loss-rate and preference tests intersected, the plain sentence
- ``pipeline``    the one comparison pipeline (replay, gates, judge both orders, record), typed results
- ``degenerate``  the per-route degenerate-output gate (near-identical answers to distinct prompts)
- ``verdict``     the ``tokenproof verdict`` contract over comparisons judged elsewhere
- ``gates``       deterministic format checks (JSON, schema, tool calls, truncation, refusals, loops)
- ``judge``       blind pairwise judge prompt (MT-Bench layout), tolerant verdicts, one retry, family rule
- ``endpoints``   provider endpoints and credentials as service settings, picked by name
- ``jobs``        background shadow runs: start, status, progress, cancel
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
