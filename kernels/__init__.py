"""Numerical kernels of the embedded engine: structure-of-arrays neuron, synapse and source updates (installed as spinnlive.kernels)."""
