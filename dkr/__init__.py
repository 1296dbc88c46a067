# chapter: 1
"""dkr: a Linux container runtime, built one kernel feature per chapter."""

__version__ = "0.3.0"
# chapter: 10 {
# The version of the OCI runtime spec that dkr follows.
OCI_VERSION = "1.0.2"
# }
