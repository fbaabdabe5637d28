"""Importing this module registers every built-in block."""

from search_algo.blocks import flat, image, pooling, sequence  # noqa: F401
