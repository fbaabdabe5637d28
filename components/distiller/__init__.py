"""Distiller: a compact student trained on the ensemble's soft labels."""
