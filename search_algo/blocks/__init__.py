"""Blocks: the registry and the built-in block library."""

from search_algo.blocks.registry import (
    TENSOR_KINDS,
    ArgSpec,
    BlockDef,
    get_block,
    list_blocks,
    register_block,
    unregister_block,
)

__all__ = [
    "TENSOR_KINDS",
    "ArgSpec",
    "BlockDef",
    "get_block",
    "list_blocks",
    "register_block",
    "unregister_block",
]
