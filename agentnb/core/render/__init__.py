"""Records rendered to escaped HTML fragments and plain text (no script, no framework)."""
