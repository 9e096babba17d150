"""Evaluation: metrics, retrieval, checkpoint evaluation, experiments, comparisons, plots and tables."""
