"""The model-development subcommands of `medtalk` (synth, train, eval, import-release).

Each module defines NAME (the subcommand), HELP (one line), `add_arguments(parser)` and
`run(args) -> int` (the exit code); a module without NAME (model_flags) is a helper. The
`medtalk` entry point (livelink_bridge.cli) composes these with the live and offline commands of
`livelink_bridge.commands`.
"""
