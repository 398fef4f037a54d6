"""The subcommands; each module's ``register`` adds its parsers and handlers."""
