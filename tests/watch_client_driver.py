"""A real agent process for the ``canary watch`` tests: serve, record, wait for stable.

``python tests/watch_client_driver.py URL ENV AGENT REQUESTS CANARY_FAIL STABLE_FAIL SEED
TIMEOUT`` resolves REQUESTS users through a RuntimeClient (short TTL), records each
outcome (failing with the given probability per variant, seeded), flushes and prints
``recorded S C`` (requests per variant). Then it keeps resolving until the client no
longer serves a canary, prints ``stable <head_commit>`` and exits 0; ``timeout`` and
exit 1 after TIMEOUT seconds.
"""

from __future__ import annotations

import random
import sys
import time

from agentver.runtime import RuntimeClient


def main(argv: list[str]) -> int:
    url, env, agent = argv[0], argv[1], argv[2]
    requests, canary_fail, stable_fail = int(argv[3]), float(argv[4]), float(argv[5])
    seed, timeout = int(argv[6]), float(argv[7])
    rng = random.Random(seed)
    served = {"stable": 0, "canary": 0}
    with RuntimeClient(url, environment=env, ttl=0.1) as client:
        for number in range(requests):
            resolved = client.resolve(agent, f"user-{seed}-{number}")
            served[resolved.variant] += 1
            fail = canary_fail if resolved.variant == "canary" else stable_fail
            client.record_outcome(resolved, ok=rng.random() >= fail)
        client.flush()
        print("recorded", served["stable"], served["canary"], flush=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            client.resolve(agent, "probe")  # a request: drives the TTL refresh
            if client.agents()[agent].canary is None:
                print("stable", client.head_commit, flush=True)
                return 0
            time.sleep(0.02)
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
