"""pynn layer."""
