"""tokenproof.collector: the service process.

OTLP/HTTP receiver, the ClickHouse store (embedded chDB by default, a server by URL), the one schema
migration runner (every area's ``NNNN_name.sql`` files, found through the ``tokenproof.migrations``
entry points; the collector's own are in ``collector/migrations/``), re-pricing and the FastAPI service that mounts
the other areas' API routers. Imports the core (``tokenproof.*``) only, never analytics.

Public surface: ``Store`` (``tokenproof.collector.store``) and ``insert_spans``
(``tokenproof.collector.testing``) for tests in other areas.
"""
