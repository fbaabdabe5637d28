"""One module per `model-search` sub-command.

Each module exposes `register(subparsers)`, which adds its parser and sets
`handler` to a function taking the parsed arguments and returning an exit
status. Modules import heavy libraries (TensorFlow, TFX) inside the handler so
that `--help` and argument errors stay instant.
"""

COMMAND_MODULES = ("run", "trials", "leaderboard", "report", "predict", "compile", "datasets", "blocks", "submit", "schedule", "gc")
