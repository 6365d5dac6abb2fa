"""MEDTalk Bridge daemon side: sources, streaming, transports, control, bake and the CLI."""
