"""Run a suite against one agent config, and reuse stored results when the key matches."""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import Any

from agentver import hashing
from agentver.errors import UsageError
from agentver.evals.assertions import check
from agentver.evals.judge import JUDGE_PROMPT_VERSION, judge_request, parse_judge_reply
from agentver.evals.providers import build_request, make_provider
from agentver.evals.results import CaseResult, EvalKey, ResultStore, RunResult, SuiteResult
from agentver.evals.settings import EvalSettings
from agentver.evals.suite import Assertion, Case, Suite, substitute
from agentver.hashing import hash_canonical
from agentver.models import AgentConfig

_OUTPUT_LIMIT = 4000  # characters of each answer kept in the stored result


def settings_identity(suite: Suite, settings: EvalSettings) -> dict[str, Any]:
    """Provider and judge settings that can change results (no secrets, no timeouts)."""
    identity: dict[str, Any] = {"provider": settings.agent_provider().identity(), "judge": None}
    if suite.uses_judge:  # judge settings only matter to suites that use a judge
        judge = settings.judge_provider()
        identity["judge"] = {
            **judge.identity(),
            "model": settings.judge_model or judge.model,  # None: the agent's model
            "prompt": JUDGE_PROMPT_VERSION,
        }
    return identity


def eval_key(agent: str, config_hash: str, suite: Suite, settings: EvalSettings) -> EvalKey:
    settings_hash = hash_canonical(settings_identity(suite, settings))
    return EvalKey(agent, config_hash, suite.hash, settings_hash)


def run_suite(
    suite: Suite,
    config: AgentConfig,
    config_hash: str,
    settings: EvalSettings,
    *,
    env: Mapping[str, str] = os.environ,
) -> SuiteResult:
    """Run every case ``repeat`` times, at most ``concurrency`` requests at a time.

    The first provider error stops the run and is raised (ProviderError, exit 2).
    """
    if config_hash != hashing.config_hash(config):
        raise UsageError(f"config_hash {config_hash} is not the hash of the config given")
    key = eval_key(suite.agent, config_hash, suite, settings)
    identity = settings_identity(suite, settings)
    agent_provider = make_provider(settings.agent_provider(), env)
    judge_provider = agent_provider  # one provider object: one concurrency limit
    if suite.uses_judge and settings.judge_provider() != agent_provider.settings:
        judge_provider = make_provider(settings.judge_provider(), env)
    judge_model = settings.judge_model or judge_provider.settings.model or config.model

    def one_run(case: Case) -> RunResult:
        system_prompt = substitute(config.system_prompt, case.variables, strict=False)
        messages = [{"role": m.role, "content": m.content} for m in case.messages]
        request = build_request(
            config, messages, model=agent_provider.settings.model, system_prompt=system_prompt
        )
        reply = agent_provider.complete(request)
        question = next((m.content for m in reversed(case.messages) if m.role == "user"), "")

        def judge(assertion: Assertion) -> tuple[float, str]:
            body = judge_request(
                judge_model, assertion.rubric, question, case.golden, reply.content
            )
            return parse_judge_reply(judge_provider.complete(body).content)

        checks = tuple(check(a, reply.content, reply.latency_ms, judge) for a in case.assertions)
        return RunResult(
            passed=all(c.passed for c in checks),
            output=reply.content[:_OUTPUT_LIMIT],
            latency_ms=reply.latency_ms,
            assertions=checks,
        )

    jobs = [(index, case) for index, case in enumerate(suite.cases) for _ in range(case.repeat)]
    workers = max(1, min(agent_provider.settings.concurrency, len(jobs)))
    runs: dict[int, list[RunResult]] = {index: [] for index in range(len(suite.cases))}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agentver-eval") as pool:
        futures: list[tuple[int, Future[RunResult]]] = [
            (index, pool.submit(one_run, case)) for index, case in jobs
        ]
        wait([f for _, f in futures], return_when=FIRST_EXCEPTION)
        for _, future in futures:
            if future.done() and future.exception() is not None:
                pool.shutdown(wait=True, cancel_futures=True)
                raise future.exception()  # type: ignore[misc]
        for index, future in futures:  # submission order: results are deterministic
            runs[index].append(future.result())
    cases = tuple(
        CaseResult(case.id, case.weight, tuple(runs[index]))
        for index, case in enumerate(suite.cases)
    )
    return SuiteResult(
        key=key,
        cases=cases,
        provider={"name": agent_provider.settings.name, **identity["provider"]},
        judge=identity["judge"],
        evaluated_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def evaluate_cached(
    suite: Suite,
    config: AgentConfig,
    config_hash: str,
    settings: EvalSettings,
    store: ResultStore,
    *,
    env: Mapping[str, str] = os.environ,
    force: bool = False,
) -> SuiteResult:
    """The stored result for this key if there is one (``reused=True``), else run and store."""
    key = eval_key(suite.agent, config_hash, suite, settings)
    if not force:
        stored = store.get(key)
        if stored is not None:
            return SuiteResult(
                stored.key,
                stored.cases,
                stored.provider,
                stored.judge,
                stored.evaluated_at,
                reused=True,
            )
    result = run_suite(suite, config, config_hash, settings, env=env)
    store.put(result)
    return result
