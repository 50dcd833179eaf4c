"""Imports every command module so each registers itself on ``app``."""

from __future__ import annotations
