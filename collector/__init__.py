"""tokenproof.collector: the service process.

OTLP/HTTP receiver, the ClickHouse store (embedded chDB by default, a server by URL), the schema
migrations (``collector/migrations/NNNN_name.sql``), re-pricing and the FastAPI service that mounts
the other areas' API routers. Imports the core (``tokenproof.*``) only, never analytics.

Public surface: ``Store`` (``tokenproof.collector.store``) and ``insert_spans``
(``tokenproof.collector.testing``) for tests in other areas.
"""
