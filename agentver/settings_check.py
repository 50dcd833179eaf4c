"""``agentver.yaml`` as ``validate`` checks it: every refusal a command could make, first.

Three layers, in order, each reported as located findings:

1. the hardened loader and the storable rule (the same as for every file agentver reads);
2. ``schemas/agentver.schema.json`` (every section: canary, gate, providers, eval,
   policies, ...; editors use the same file through the ``yaml-language-server`` hint);
3. when the schema passes, the parsers the commands themselves use (settings, policies,
   evaluation settings, the canary rule of every agent), for what a schema cannot say
   (``default_environment`` among ``environments``, ``promote_ratio`` not above
   ``rollback_ratio``, a phrase both required and forbidden, an unknown provider name).

So a command never refuses an ``agentver.yaml`` that ``validate`` passed.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from agentver.config import Loaded, Path_, load_yaml
from agentver.errors import AgentverError, ConfigError, UsageError
from agentver.models import Finding
from agentver.policy import Policy, parse_policies
from agentver.secret_scan import scan_secrets
from agentver.settings import SETTINGS_FILE, Settings, settings_from_loaded
from agentver.storable import storable_problems

SCHEMA_FILE = "agentver.schema.json"


@dataclass(frozen=True)
class SettingsCheck:
    """What ``validate`` learnt from ``agentver.yaml``.

    ``settings`` is None when the file cannot be used at all (then agents cannot even
    be found); ``policies`` is empty when the policies section is broken (reported).
    """

    settings: Settings | None
    policies: Mapping[str, Policy] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    allowed_secrets: frozenset[str] = frozenset()  # fingerprints under secrets.allow


@lru_cache(maxsize=1)
def settings_schema() -> dict[str, Any]:
    text = resources.files("agentver").joinpath(f"schemas/{SCHEMA_FILE}").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # slow import: only validate pays for it

    return jsonschema.Draft202012Validator(settings_schema())


def check_settings(root: Path, shown: str = SETTINGS_FILE) -> SettingsCheck:
    """Check ``root/agentver.yaml`` (absent: the defaults, nothing to report)."""
    path = root / SETTINGS_FILE
    if not path.is_file():
        return SettingsCheck(Settings())
    try:
        loaded = load_yaml(path.read_bytes(), shown)
    except ConfigError as exc:
        return SettingsCheck(None, findings=(Finding(shown, exc.line, exc.col, exc.reason),))
    found = [problem.finding(shown) for problem in storable_problems(loaded)]
    allowed = allowed_secrets(loaded.data)
    # a store URL with its password is the classic leak of this file
    found.extend(scan_secrets(loaded.text, shown, allowed))
    schema_found = schema_findings(loaded)
    found.extend(schema_found)
    settings: Settings | None
    try:
        settings = settings_from_loaded(loaded)
    except ConfigError as exc:
        if not schema_found:
            found.append(Finding(shown, exc.line, exc.col, exc.reason))
        return SettingsCheck(None, findings=tuple(_sorted(found)))
    policies: Mapping[str, Policy] = {}
    if not schema_found:
        policies = _semantic(loaded, settings, root, found)
    else:
        with contextlib.suppress(AgentverError):  # the schema finding says what is wrong
            policies = parse_policies(settings.raw.get("policies"), SETTINGS_FILE)
    return SettingsCheck(settings, policies, tuple(_sorted(found)), allowed)


def allowed_secrets(data: Any) -> frozenset[str]:
    """Fingerprints of known false positives (``secrets: {allow: [...]}``)."""
    section = data.get("secrets") if isinstance(data, dict) else None
    allow = section.get("allow") if isinstance(section, dict) else None
    return (
        frozenset(item for item in allow if isinstance(item, str))
        if isinstance(allow, list)
        else frozenset()
    )


def _semantic(
    loaded: Loaded, settings: Settings, root: Path, found: list[Finding]
) -> Mapping[str, Policy]:
    """Run the parsers the commands use; each refusal becomes a finding at its section."""
    from agentver.canary.evaluate import rule_for
    from agentver.canary.watch import watch_settings
    from agentver.evals.settings import parse_eval_settings
    from agentver.store.url import parse_store_url

    def attempt(section: str, parse: Callable[[], Any]) -> Any:
        try:
            return parse()
        except AgentverError as exc:
            line, col = loaded.locate((section,), key=True)
            message = exc.message.removeprefix(f"{SETTINGS_FILE}: ")
            found.append(Finding(loaded.path, line, col, message))
            return None

    policies = attempt(
        "policies", lambda: parse_policies(settings.raw.get("policies"), SETTINGS_FILE)
    )
    evals = attempt("providers", lambda: parse_eval_settings(settings.raw, root=root))
    if evals is not None and evals.providers:
        # which provider answers and which judges is decided when `eval` runs; ask now
        where = "eval" if "eval" in settings.raw else "providers"
        if attempt(where, evals.agent_provider) is not None:
            attempt(where, evals.judge_provider)
    attempt("watch", lambda: watch_settings(settings))
    if "store" in settings.raw:  # the URL's form; reaching the store is sync's business

        def store_url() -> Any:
            try:
                return parse_store_url(settings.store, root)
            except AgentverError as exc:
                raise UsageError(f"store: {exc.message}", exc.hint) from None

        attempt("store", store_url)
    canary = settings.raw.get("canary")
    agents = canary.get("agents") if isinstance(canary, dict) else None
    for agent in ["*", *(sorted(agents) if isinstance(agents, dict) else [])]:

        def canary_rule(agent: str = agent) -> Any:
            return rule_for(settings, agent)

        if attempt("canary", canary_rule) is None:
            break  # one message per section is enough
    return policies or {}


def schema_findings(loaded: Loaded) -> list[Finding]:
    """``agentver.yaml`` against its JSON Schema, located, with did-you-mean hints."""
    if loaded.data is None:
        return []
    if not isinstance(loaded.data, dict):
        return [Finding(loaded.path, 1, 1, "expected a mapping of settings")]
    found = [_explain(loaded, error) for error in _validator().iter_errors(loaded.data)]
    return _sorted(found)


def _explain(loaded: Loaded, error: Any) -> Finding:
    key_path: Path_ = tuple(error.absolute_path)
    if error.validator == "oneOf" and key_path == ("gate",) and isinstance(error.instance, dict):
        branch = _gate_branch(error.instance)
        if branch is not None:  # one form was clearly meant: explain that form's problem
            import jsonschema

            inner = [e for e in error.context if e.relative_schema_path[0] == branch]
            if inner:
                return _explain(loaded, jsonschema.exceptions.best_match(inner))
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        if unknown and allowed:
            key = unknown[0]
            message = f"unknown setting {'.'.join([*map(str, key_path), key])!r}"
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            message += (
                f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(allowed)}"
            )
            line, col = loaded.locate((*key_path, key), key=True)
            return Finding(loaded.path, line, col, message)
    dotted = ".".join(str(part) for part in key_path) or "settings"
    line, col = loaded.locate(key_path)
    return Finding(loaded.path, line, col, f"{dotted}: {_short(error)}")


_GATE_KEYS = {"min_score", "not_worse_than"}


def _gate_branch(gate: dict[str, Any]) -> int | None:
    """0: the short form (gate settings for all), 1: per agent; None when mixed."""
    if set(gate) <= _GATE_KEYS:
        return 0
    if not set(gate) & _GATE_KEYS:
        return 1
    return None


def _short(error: Any) -> str:
    if error.validator == "oneOf" and tuple(error.absolute_path) == ("gate",):
        return (
            "either {min_score, not_worse_than} for every agent, or a mapping of agent "
            'ids (and "*") to those, not both'
        )
    message: str = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def _sorted(found: list[Finding]) -> list[Finding]:
    return sorted(found, key=lambda finding: (finding.line, finding.col, finding.message))
