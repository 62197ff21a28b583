"""Closed-loop adapters: ZeroMQ clients of the bridge (installed as spinnlive.adapters)."""
