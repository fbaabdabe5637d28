"""Trainer: trains its share of a round's proposals, each trial isolated."""
