"""``zsl demo``: zero-shot audio classification end to end on an embedded synthetic dataset, offline.

A client of the library, in the order ``examples/demo.sh`` runs the subcommands:

* :mod:`zsltool.demo.data` — the world: dataset, class set, GZSL split, audio and image networks trained on
  the training classes only, and every embedding file (hybrid through ``zsltool.store.compose.combine``);
* :mod:`zsltool.demo.table3` — Dogan et al.'s Table III through ``run_experiment`` (what ``zsl experiment``
  runs), with retrieval and figures from its checkpoints;
* :mod:`zsltool.demo.av` — Mazumder et al.'s audio-visual GZSL tables through ``run_experiment``;
* :mod:`zsltool.demo.run` — :func:`run_demo`, which strings them together, runs ``zsl classify`` on one clip
  of an unseen class last (``classify_unseen_clip``) and writes ``OUT/results.json``.

No network ever sees a validation or test class: the audio and image networks and the projection are trained
on the training classes only; the unseen classes enter only through their side information.
"""

from zsltool.demo.run import run_demo

__all__ = ["run_demo"]
