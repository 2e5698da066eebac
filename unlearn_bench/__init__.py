"""unlearn_bench: a config-driven benchmark harness for machine unlearning."""

__version__ = "0.1.0"
