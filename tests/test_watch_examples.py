"""The watcher's deployment examples: they run `canary watch` as documented, with the
credentials docs/auto-rollback.md names and no others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from conftest import load_gen_docs

import agentver.cli.app  # noqa: F401  (every command registered)

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "examples" / "k8s"
gen_docs = load_gen_docs()


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    [container] = spec["template"]["spec"]["containers"]
    return dict(container)


def _watch_args(script: str) -> list[str]:
    [args] = [a for a in gen_docs.agentver_invocations(script) if "watch" in a]
    assert gen_docs.command_problems(args) == [], args
    return list(args)


def test_k8s_examples_run_the_watcher_with_only_its_two_credentials() -> None:
    for name, kind, once in (
        ("canary-watch-deployment.yaml", "Deployment", False),
        ("canary-watch-cronjob.yaml", "CronJob", True),
    ):
        manifest = _load(K8S / name)
        assert manifest["kind"] == kind
        container = _container(manifest)
        script = container["args"][0]
        assert "exec agentver" in script  # PID 1 is the watcher: it receives SIGTERM
        args = _watch_args(script)
        assert {"--apply", "--push", "--sync"} <= set(args)
        assert ("--once" in args) is once
        secrets = {
            env["valueFrom"]["secretKeyRef"]["key"]
            for env in container["env"]
            if "valueFrom" in env
        }
        assert secrets == {"store-url"}
        volumes = manifest["spec"]
        if kind == "CronJob":
            volumes = volumes["jobTemplate"]["spec"]
        [secret_volume] = [v for v in volumes["template"]["spec"]["volumes"] if "secret" in v]
        keys = {item["key"] for item in secret_volume["secret"]["items"]}
        assert keys == {"deploy-key", "known_hosts"}
        assert volumes["template"]["spec"]["automountServiceAccountToken"] is False


def test_deployment_gives_the_pass_in_progress_time_to_finish() -> None:
    spec = _load(K8S / "canary-watch-deployment.yaml")["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] >= 30


def test_scheduled_workflow_needs_the_store_secret_and_contents_write_only() -> None:
    workflow = _load(ROOT / "examples" / "workflows" / "canary-watch.yml")
    assert "schedule" in workflow.get("on", workflow.get(True))
    assert workflow["permissions"] == {"contents": "write"}
    job = workflow["jobs"]["watch"]
    assert job["environment"] == "production"  # protected; holds the secret
    # Only the watching step sees the store (tests/test_workflows.py checks every example).
    [step] = [s for s in job["steps"] if "AGENTVER_STORE" in s.get("env", {})]
    assert step["env"]["AGENTVER_STORE"] == "${{ secrets.AGENTVER_STORE }}"
    assert "canary watch" in step["run"]
    uses = [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/checkout", "your-org/agentver"]  # pinned by commit id
    args = _watch_args("\n".join(step.get("run", "") for step in job["steps"]))
    assert {"--once", "--apply", "--push", "--sync"} <= set(args)
