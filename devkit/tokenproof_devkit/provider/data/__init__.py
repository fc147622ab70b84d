"""Recorded model outputs shipped with the provider (RouteLLM subset, Apache-2.0; see NOTICE)."""
