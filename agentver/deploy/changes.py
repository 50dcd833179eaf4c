"""The pointer changes as pure functions: old pointer in, new pointer and message out.

Each builder returns a ``Compute`` for ``transaction.transact``, which runs it under the
pointer lock on the pointer it has just read, so a change is computed from the state it
replaces. Raising ``NoChange`` means "already so": exit 0, no commit.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from agentver.deploy.transaction import Compute, NoChange
from agentver.errors import CheckFailed, UsageError
from agentver.models import ActiveVersion, Canary, Flag, Pointer, Version, percent_number
from agentver.routing import new_salt


def _active(version: Version) -> ActiveVersion:
    return ActiveVersion(version.version, version.config_hash, version.commit)


def deploy(version: Version, environment: str, action: str = "deploy", note: str = "") -> Compute:
    """``deploy`` and ``rollback``: make a version active now, ending any canary."""

    def compute(before: Pointer) -> tuple[Pointer, str]:
        wording = "to " if action == "rollback" else ""
        message = f"agentver({environment}): {action} {version.agent} {wording}v{version.version}"
        if before.active == _active(version) and before.canary is None:
            raise NoChange(f"{version.agent} v{version.version} is already active in {environment}")
        if before.canary:
            message += f" (ends canary v{before.canary.version})"
        return_pointer = replace(before, active=_active(version), canary=None)
        return return_pointer, message + note

    return compute


def canary_start(
    version: Version, environment: str, percent_bp: int, now: str | None = None, note: str = ""
) -> Compute:
    def compute(before: Pointer) -> tuple[Pointer, str]:
        agent = version.agent
        if before.active is None:
            raise UsageError(
                f"{agent} has no active version in {environment}; a canary needs one to compare with",
                f"deploy one first: agentver deploy {agent} <version> --env {environment}",
            )
        if before.canary is not None:
            raise UsageError(
                f"{agent} already has a canary in {environment} (v{before.canary.version} at "
                f"{before.canary.percent}%)",
                f"change it with `agentver canary set {agent} --percent P` or end it with "
                f"`agentver canary promote|abort {agent}`",
            )
        if before.active.config_hash == version.config_hash:
            raise UsageError(
                f"v{version.version} is already the active version of {agent} in {environment}"
            )
        canary = Canary(
            version.version,
            version.config_hash,
            version.commit,
            percent_bp,
            new_salt(),
            now or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        message = (
            f"agentver({environment}): canary start {agent} v{version.version} "
            f"at {percent_number(percent_bp)}%{note}"
        )
        return replace(before, canary=canary), message

    return compute


def _running(before: Pointer, environment: str) -> Canary:
    if before.canary is None:
        raise UsageError(
            f"{before.agent} has no canary running in {environment}",
            f"start one: agentver canary start {before.agent} <version> --percent 10 --env {environment}",
        )
    return before.canary


def canary_set(environment: str, percent_bp: int) -> Compute:
    def compute(before: Pointer) -> tuple[Pointer, str]:
        canary = _running(before, environment)
        if canary.percent_bp == percent_bp:
            raise NoChange(f"the canary of {before.agent} already runs at {canary.percent}%")
        message = (
            f"agentver({environment}): canary set {before.agent} v{canary.version} "
            f"to {percent_number(percent_bp)}% (was {canary.percent}%)"
        )
        return replace(before, canary=replace(canary, percent_bp=percent_bp)), message

    return compute


def canary_end(environment: str, action: str, note: str = "") -> Compute:
    """``promote`` makes the canary active; ``abort`` drops it."""

    def compute(before: Pointer) -> tuple[Pointer, str]:
        canary = _running(before, environment)
        message = f"agentver({environment}): canary {action} {before.agent} v{canary.version}{note}"
        if action == "promote":
            active = ActiveVersion(canary.version, canary.config_hash, canary.commit)
            return replace(before, active=active, canary=None), message
        return replace(before, canary=None), message

    return compute


MAX_NAME = 256


def check_names(option: str, names: tuple[str, ...] | None) -> None:
    """Users and tools must read back as the same text from the pointer file: no
    undecodable bytes (``\\udcff`` from a non-UTF-8 argument), no control or invisible
    characters, no surrounding spaces (issue: an unreadable pointer was committed)."""
    for name in names or ():
        if (
            not isinstance(name, str)
            or not name
            or len(name) > MAX_NAME
            or name != name.strip()
            or not name.isprintable()
        ):
            raise UsageError(
                f"{option}: {name!a} is not a valid name",
                f"names are 1-{MAX_NAME} printable UTF-8 characters without surrounding spaces",
            )


@dataclass(frozen=True)
class FlagChange:
    """What ``flag set`` changes; None keeps the current value. Checked on construction,
    so a bad argument is refused before anything is read or written."""

    percent_bp: int | None = None
    users: tuple[str, ...] | None = None
    add_tools: tuple[str, ...] | None = None
    remove_tools: tuple[str, ...] | None = None
    enabled: bool | None = None
    clear_percent: bool = False

    def __post_init__(self) -> None:
        check_names("--users", self.users)
        check_names("--add-tools", self.add_tools)
        check_names("--remove-tools", self.remove_tools)
        bp = self.percent_bp
        if bp is not None and (
            isinstance(bp, bool) or not isinstance(bp, int) or not 0 < bp <= 10000
        ):
            raise UsageError(f"invalid flag percent: {bp!r} basis points (1 to 10000)")


def flag_set(environment: str, name: str, change: FlagChange, *, create: bool = False) -> Compute:
    """Change a flag (create it only with ``create``); options not given keep their value."""

    def compute(before: Pointer) -> tuple[Pointer, str]:
        # Checked here, after the repository's state (merge, corrupt pointer...): those
        # are what the user must fix first.
        if change == FlagChange():
            raise UsageError(
                f"nothing to set: flag set {name} without options changes nothing",
                "give --percent, --users, --add-tools, --remove-tools, --disable or --enable",
            )
        current = before.flags.get(name)
        if current is None and not create:
            # A typo must not create a second flag while the real one stays as it was.
            close = difflib.get_close_matches(name, list(before.flags), n=1, cutoff=0.6)
            advice = f"did you mean {close[0]!r}? " if close else ""
            raise CheckFailed(
                f"{before.agent} has no flag {name!r} in {environment}",
                f"{advice}to create a new flag, add --create",
            )
        flag = current or Flag(name)
        flag = Flag(
            name,
            flag.enabled if change.enabled is None else change.enabled,
            None
            if change.clear_percent
            else (flag.percent_bp if change.percent_bp is None else change.percent_bp),
            flag.users if change.users is None else change.users,
            flag.add_tools if change.add_tools is None else change.add_tools,
            flag.remove_tools if change.remove_tools is None else change.remove_tools,
        )
        if current == flag:
            raise NoChange(f"flag {name} of {before.agent} is already set that way")
        verb = "disable" if not flag.enabled else "set"
        flags = {**before.flags, name: flag}
        return replace(
            before, flags=flags
        ), f"agentver({environment}): flag {verb} {before.agent} {name}"

    return compute


def flag_rm(environment: str, name: str) -> Compute:
    def compute(before: Pointer) -> tuple[Pointer, str]:
        if name not in before.flags:
            known = ", ".join(sorted(before.flags)) or "none"
            raise UsageError(
                f"{before.agent} has no flag {name!r} in {environment}", f"flags: {known}"
            )
        flags = {key: value for key, value in before.flags.items() if key != name}
        return replace(
            before, flags=flags
        ), f"agentver({environment}): flag rm {before.agent} {name}"

    return compute
