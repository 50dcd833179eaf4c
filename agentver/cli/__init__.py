"""The command-line interface: the only layer that prints, prompts or exits."""
