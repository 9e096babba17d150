"""Training: configuration, data assembly, the training loop and self-describing checkpoints.

The Python API's entry point is ``zsltool.train_model(audio=..., split=..., out=...)`` (:mod:`zsltool.api`)."""
