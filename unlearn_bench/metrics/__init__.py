"""Pure metric functions of arrays (logits, labels) saved by the evaluation pass."""
