#!/usr/bin/env python3
"""One `enqueue` until every job it made is done, for benches/run.

    enqueue_until_stored.py BASE_URL TOKEN BODY_FILE DONE_TARGET

Sends BODY_FILE (a GraphQL `enqueue` request) to BASE_URL/graphql, then polls `queueStatus`
about every 10 ms until `done` reaches DONE_TARGET, and prints the addresses stored per second,
timed from the request to the poll that saw the last one. Exits non-zero, saying why, if the
request fails, a lookup fails, or 120 s pass.

One process and one kept-alive connection: a curl process per poll cost more than half a core
on 2 cores, taken from the server while it was being measured.
"""

import http.client
import json
import sys
import time
import urllib.parse

POLL_INTERVAL = 0.010
TIMEOUT = 120.0
POLL = json.dumps({"query": "{ queueStatus { done failed } }"}).encode()


def main() -> int:
    base, token, body_file, target = sys.argv[1:5]
    target = int(target)
    with open(body_file, "rb") as f:
        body = f.read()
    count = len(json.loads(body)["variables"]["ip"])
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def graphql(payload: bytes) -> dict:
        connection.request("POST", "/graphql", payload, headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            sys.exit(f"/graphql answered {response.status}: {answer[:300]!r}")
        return json.loads(answer)

    started = time.monotonic()
    answer = graphql(body)
    if answer.get("data", {}).get("enqueue") != count:
        sys.exit(f"enqueue answered {json.dumps(answer)[:300]}")
    while True:
        status = graphql(POLL)["data"]["queueStatus"]
        now = time.monotonic()
        if status["failed"]:
            sys.exit(f"{status['failed']} lookups failed")
        if status["done"] >= target:
            break
        if now - started > TIMEOUT:
            sys.exit(f"enqueue: only {status['done']} of {target} jobs done after {TIMEOUT:.0f} s")
        time.sleep(POLL_INTERVAL)
    print(round(count / (now - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
