"""The search itself: search space, blocks, model builder, algorithms.

Framework-light by design: this package imports numpy and keras/tensorflow,
never tfx, `components` or `pipeline`.
"""
