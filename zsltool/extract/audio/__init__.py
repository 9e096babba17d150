"""Audio embeddings: the VGGish front end and network, decoding, extraction, pretraining, AudioSet import."""
