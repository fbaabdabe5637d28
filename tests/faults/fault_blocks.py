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


@register_block("stopper", input_kinds=("flat", "image"), output_kind="flat", args={})
def stopper(x):
    """Stops the run while it is built, as a user would, once per signal named
    in FAULT_STOPS (`SIGTERM`: `kill` of the command; `SIGINT`: Ctrl-C, to the
    whole process group); FAULT_STOPS_DIR counts the stops made."""
    made = os.environ["FAULT_STOPS_DIR"]
    stops = os.environ["FAULT_STOPS"].split(",")
    count = len(os.listdir(made))
    if count < len(stops):
        open(os.path.join(made, str(count)), "w").close()
        if stops[count] == "SIGTERM":
            os.kill(os.getppid(), signal.SIGTERM)
        else:
            os.killpg(os.getpgid(0), signal.SIGINT)
        time.sleep(60)  # the stop arrives mid-trial
    return keras.layers.Flatten(name="flat")(x)


@register_block("broken", input_kinds=("flat", "image"), output_kind="flat", args={})
def broken(x):
    """Fails while the file FAULT_BROKEN names exists: a cause that gets fixed."""
    if os.path.exists(os.environ["FAULT_BROKEN"]):
        raise RuntimeError("the disk is full")
    return keras.layers.Flatten(name="flat")(x)
