"""Routing: the route registry, canaries, post-switch monitoring and exports (docs/routing.md)."""
