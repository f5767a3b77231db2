"""albrules: back up and restore AWS Application Load Balancer listener rules."""

__version__ = "0.1.0"
