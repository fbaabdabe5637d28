"""Ensembler: ensemble selection (bagged, greedy or learned weights) over the best completed trials."""
