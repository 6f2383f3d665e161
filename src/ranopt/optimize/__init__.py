"""Optimizers: energy saving, load balancing, slicing and compensation, all returning a Plan."""
