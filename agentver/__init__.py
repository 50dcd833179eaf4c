"""agentver: git-native versioning for AI agent configurations."""

__version__ = "0.1.0"
