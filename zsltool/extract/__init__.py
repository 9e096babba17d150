"""Embedding extractors (audio, image, text, video) behind one registry; see registry.py."""
