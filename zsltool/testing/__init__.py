"""Synthetic data makers shipped with zsl: the demo dataset (``synth.make_demo_dataset``) and its parts.

Import-light: the submodules import numpy, soundfile, PIL, av and gensim only where they need them.
"""
