# chapter: 1
"""dkr: a Linux container runtime, built one kernel feature per chapter."""

__version__ = "0.3.0"
