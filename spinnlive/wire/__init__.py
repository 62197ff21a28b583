"""The ZeroMQ side's contract as sans-IO code (docs/wire-format.md)."""
