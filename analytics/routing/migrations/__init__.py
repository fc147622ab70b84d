"""Routing schema migrations: ``NNNN_name.sql`` files numbered 0300-0399 (no Python here).

Registered in the ``tokenproof.migrations`` entry-point group and applied by the collector's one
runner (``tokenproof.collector.migrate``); see ``docs/store.md``.
"""
