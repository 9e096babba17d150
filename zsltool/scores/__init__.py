"""Numbers computed from a model's scores, numpy only: the metrics and their registry (metrics.py: ``METRICS``;
retrieval.py: average precision), the calibration of probabilities (temperature.py: the softmax temperature
``zsl train`` fits and ``zsl classify`` applies; calibration.py: ECE and NLL) and summaries over trials
(stats.py). The layer below training (which chooses epochs by calibrated validation HM and fits the
temperature), evaluation and classification (docs/DESIGN.md, "Layers and imports")."""
