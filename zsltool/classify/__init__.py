"""Zero-shot classification of new clips against any candidate labels (``zsl classify``).

    import zsltool
    preds = zsltool.classify_clips("model.pt", "clip.wav", labels=["dog", "siren", "church bells"])
    preds[0]["top"]      # [{"rank": 1, "label": "siren", "score": ..., "probability": ...}, ...]

The Python API's ``zsltool.classify_clips(model, clips, labels=...)`` is
:func:`zsltool.classify.run.classify_clips`. Its parts (docs/classify.md):

* ``labels`` (embed-labels; ``vectors`` streams word vectors for a few labels): candidate labels are embedded
  with the text backend and settings that made the checkpoint's training text file (its provenance: backend,
  tokenizer rules, vectors path and sha256, sentence model). A vectors file whose sha256 differs from the
  recorded one is refused unless ``allow_other_vectors``. When every label is a class the checkpoint already
  holds, its stored class embeddings are used and nothing is loaded. ``class_embeddings`` (any zsl class-level
  file) replaces this step (image, hybrid, audio prototypes).
* ``clips`` (embed-clips): audio is embedded with the extractor recorded for the training audio file (model,
  weights and their sha256, embedding variant, front end, max seconds); videos with the training video
  extractor; ``embeddings`` (an instance-level file) uses precomputed rows.
* ``score``: the model is rebuilt from the checkpoint alone (``build_model``) and scores through
  ``zsltool.train.data.compute_scores``, the path ``zsl evaluate`` uses. Probabilities: softmax over the
  candidates of ``scores / T`` with the temperature fitted at training time (``calibrate``); checkpoints
  without one use each clip's score standard deviation.
* ``joint``: ``zsltool.classify_joint(...)`` (``zsl classify --model clap``), a joint audio-text model and no
  checkpoint.
"""
