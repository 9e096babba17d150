"""Evaluation: metrics, retrieval, checkpoint evaluation, experiments, comparisons, plots and tables.

The Python API's entry point is ``zsltool.evaluate_checkpoint(checkpoint)``
(:func:`zsltool.evaluate.evaluate.evaluate_checkpoint`)."""
