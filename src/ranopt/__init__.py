"""ranopt: an AI-driven energy and QoS optimizer for 5G Open RAN networks."""

__version__ = "0.1.0"
