"""The collector's schema migrations: ``NNNN_name.sql`` files numbered 0001-0099 (no Python here).

Registered in the ``tokenproof.migrations`` entry-point group; see ``docs/store.md``.
"""
