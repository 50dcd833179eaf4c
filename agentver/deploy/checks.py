"""What stands between a version and an environment (docs/design.md sections 4 and 8).

- **Validity** (computed by history, ``agentver.validity``): schema, storable, and the
  policies of the ``agentver.yaml`` committed at the version's own commit. Schema and storable failures are never deployable (the store
  and the runtime refuse such a version); a policy violation is refused like a failing
  evaluation gate, unless ``--skip-gate --reason`` records why in the commit.
- **The evaluation gate**, with the settings committed at HEAD: an uncommitted edit of
  ``gate``, ``policies``, ``providers`` or ``eval`` is a warning, never in effect.
- **Rollback only goes back**: to a version older than the active one, or one that was
  active in the environment before; it skips the gate (the emergency path) but not
  validity.

``guard`` is the one entry point; each action calls it inside its pointer transaction,
with the pointer it is about to replace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentver.config import load_yaml
from agentver.deploy.gate import enforce_gate, gate_applies
from agentver.errors import AgentverError, CheckFailed, ConfigError, UsageError
from agentver.models import Pointer, Version
from agentver.settings import SETTINGS_FILE
from agentver.validity import POLICY_MARK, policy_reasons, unservable_reasons

if TYPE_CHECKING:
    from agentver.workspace import Workspace

# The sections of agentver.yaml that decide whether a version may be deployed.
CHECKED_SECTIONS = ("gate", "policies", "providers", "eval")


@dataclass(frozen=True)
class Committed:
    """HEAD's committed ``agentver.yaml`` (as a mapping) and what the work tree changes."""

    settings: Mapping[str, Any]
    drift: tuple[str, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        if not self.drift:
            return ()
        return (
            f"{SETTINGS_FILE} has uncommitted changes to {', '.join(self.drift)}; deploy "
            "checks use the committed settings (commit the change to apply it)",
        )


def committed_settings(ws: Workspace) -> Committed:
    settings = settings_at(ws, ws.index.head)
    drift = tuple(key for key in CHECKED_SECTIONS if ws.settings.raw.get(key) != settings.get(key))
    return Committed(settings, drift)


def settings_at(ws: Workspace, commit: str) -> Mapping[str, Any]:
    """``agentver.yaml`` as committed at ``commit``; empty when it did not exist."""
    blob = ws.repo.blob_at(commit, SETTINGS_FILE)
    if blob is None:
        return {}
    where = f"{SETTINGS_FILE} at {commit[:10]}"
    data = load_yaml(ws.repo.read_blobs([blob])[blob], where).data
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of settings", where)
    return data


@dataclass(frozen=True)
class Validity:
    unservable: tuple[str, ...]  # schema, storable: can never be deployed
    policy: tuple[str, ...]  # policies at the version's commit: overridable with a reason

    @property
    def valid(self) -> bool:
        return not self.unservable and not self.policy


def validity(version: Version) -> Validity:
    """What history found (agentver.validity: schema, storable, and the policies of the
    ``agentver.yaml`` committed at the version's commit), split by what may override it.
    Policy reasons lose their location here: they read "policy: ..." in one line."""
    policy = tuple(
        "policy: " + reason.split(POLICY_MARK, 1)[1] for reason in policy_reasons(version)
    )
    return Validity(unservable_reasons(version), policy)


def skip_reason(skip: bool, reason: str | None) -> str | None:
    """The one-line reason of ``--skip-gate --reason`` (None without --skip-gate);
    exit 2 for --skip-gate without a reason, or a reason without --skip-gate."""
    if not skip:
        if reason is not None:
            raise UsageError("--reason is only used with --skip-gate")
        return None
    text = " ".join((reason or "").split())  # one line: it goes into the commit subject
    if not text:
        raise UsageError(
            '--skip-gate needs --reason "..."', "the reason is recorded in the pointer commit"
        )
    if not text.isprintable():
        raise UsageError(f"--reason {text!a} is not printable text")
    return text


def guard(
    ws: Workspace,
    version: Version,
    environment: str,
    committed: Committed,
    *,
    gate: bool,
    skip_reason: str | None,
) -> str:
    """Refuse ``version`` unless it may run in ``environment``; returns the note for the
    commit message (what was skipped and why), empty when nothing was skipped.

    ``gate`` is False for rollbacks and for a canary already running: they never wait on
    the evaluation gate, but an invalid version is refused all the same.
    """
    found = validity(version)
    if found.unservable:
        # No override: the store and the runtime refuse such a version (sync would skip
        # the pointer), so letting it through would only break the environment.
        rule = "schema" if any("storable" not in p for p in found.unservable) else "storable rule"
        raise UsageError(
            f"{version.agent} v{version.version} does not pass the {rule} and can never be "
            f"deployed: {found.unservable[0]}",
            f"see `agentver show {version.agent} {version.version}`; commit a fixed version",
        )
    try:
        if skip_reason is None:
            if found.policy:
                raise CheckFailed(
                    f"{version.agent} v{version.version} is invalid: {found.policy[0]}",
                    'commit a fixed version, or override with --skip-gate --reason "..."',
                )
            if gate:
                enforce_gate(ws, version.agent, version, environment, committed.settings)
    except AgentverError as exc:
        if committed.drift:
            exc.hint = "; ".join(filter(None, (exc.hint, committed.warnings[0])))
        raise
    if skip_reason is None:
        return ""
    gated = gate and gate_applies(ws, version.agent, committed.settings)
    skipped = [
        what for what, on in (("policy check", found.policy), ("evaluation gate", gated)) if on
    ]
    return f" ({' and '.join(skipped or ['checks'])} skipped: {skip_reason})"


def require_going_back(ws: Workspace, version: Version, environment: str, before: Pointer) -> None:
    """Rollback's rule: older than the active version, or active here before."""
    active = before.active
    if active is not None and (
        version.version < active.version or version.config_hash == active.config_hash
    ):
        return
    for event in ws.pointer_events(environment, version.agent):
        ran = event.pointer.active if event.pointer else None
        if ran is not None and ran.config_hash == version.config_hash:
            return
    now = f"v{active.version} is active" if active else "nothing is active"
    raise CheckFailed(
        f"rollback only goes back: {now} in {environment} and {version.agent} "
        f"v{version.version} never ran there",
        f"to release a new version, deploy it (through the evaluation gate): "
        f"agentver deploy {version.agent} {version.version} --env {environment}",
    )
