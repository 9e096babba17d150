"""Training: configuration, data assembly, the training loop and self-describing checkpoints."""
