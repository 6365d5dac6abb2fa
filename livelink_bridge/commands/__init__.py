"""One module per `medtalk` subcommand.

Each module defines NAME (the subcommand), HELP (one line), `add_arguments(parser)` and
`run(args) -> int` (the exit code). The CLI discovers them, so adding a command is adding a file.
"""
