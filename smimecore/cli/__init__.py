"""The command-line shell over the engine."""
