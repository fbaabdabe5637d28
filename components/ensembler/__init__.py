"""Ensembler: greedy ensemble selection over every completed trial."""
