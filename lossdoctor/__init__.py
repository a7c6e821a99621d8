"""lossdoctor: diagnose deep-learning training logs."""

__version__ = "0.1.0"
