"""Proposer: reads every finished trial and proposes the next round."""
