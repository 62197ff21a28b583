"""database layer."""
