"""tokenproof.analytics: who spent what, is it normal, and what to tell whom.

Modules: ``attribution`` (cost by any dimension, movers, coverage, trace roll-ups), ``anomaly``
(seasonal detectors, pure numpy/scipy), ``evaluate`` (one detection pass over the store),
``alerts`` (lifecycle and dedup), ``budgets`` (monthly budgets and burn-rate forecasts),
``webhooks`` (signed, retried delivery), ``focus`` (FinOps FOCUS export), ``api`` (service router),
``cli`` (``tokenproof cost|alerts|budgets|export``), ``timewindow`` (time parsing).
``proof/`` holds the proof loop (mining, shadow runs, judge, sequential test). ``migrations/`` (and
``proof/migrations/``) hold this area's SQL, applied by the collector's runner (docs/store.md).

May import: ``tokenproof`` core and ``tokenproof.collector`` (store, auth); never dashboards.
"""
