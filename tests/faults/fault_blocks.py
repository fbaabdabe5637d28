"""Blocks that misbehave as a trial can on a real machine, for the fault tests:
`fatal` kills the process building it (as the out-of-memory killer or a crash
in native code would), `sleepy` hangs while it is built (where no training
callback can see the time pass). A study's --module-file registers them."""

import os
import signal
import time

import keras

from search_algo.blocks import register_block


@register_block("fatal", input_kinds=("flat", "image"), output_kind="flat", args={})
def fatal(x):
    os.kill(os.getpid(), signal.SIGKILL)
    return keras.layers.Flatten(name="flat")(x)


@register_block("sleepy", input_kinds=("flat", "image"), output_kind="flat",
                args={"seconds": {"default": 60, "choices": [60]}})
def sleepy(x, *, seconds):
    time.sleep(seconds)
    return keras.layers.Flatten(name="flat")(x)
