"""SQL migrations of the proof scheduler (versions 0400-0499)."""
