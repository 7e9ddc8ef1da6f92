#!/usr/bin/env python3
"""Run every scim2-tester conformance check against a running SCIM 2.0 server.

Usage: scim2_tester_run.py --url http://127.0.0.1:8080/scim/v2 --token TOKEN

The library discovers the server itself (ServiceProviderConfig, ResourceTypes,
Schemas), then creates, reads, lists, searches, replaces, patches and deletes
resources of every resource type the server publishes. One line is printed per
check result, then a count by status and a closing "N passed, N failed" line.

Exit status: 0 when no result failed, 1 when one did (or the server could not
be reached, or a required resource type was never exercised), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections import Counter

try:
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import CheckResult
    from scim2_tester import Status
    from scim2_tester import check_server
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit(
        f"error: cannot import scim2-tester ({exc}); "
        "install it with: pip install -r .ci/requirements.txt"
    )

# Statuses that fail the run. scim2-tester documents them as:
#   ERROR    - the server violates a MUST / MUST NOT of RFC 7643/7644;
#   CRITICAL - the server creates a security risk or breaks the protocol.
# SUCCESS, COMPLIANT and ACCEPTABLE are conformant behaviour. DEVIATION departs
# from a SHOULD but stays within the RFCs, so it is reported as a warning only.
# SKIPPED means the check did not run (the server declared the feature
# unsupported, or a prerequisite was missing), which is not a failure by itself.
FAILING = frozenset({Status.ERROR, Status.CRITICAL})
NOT_RUN = frozenset({Status.SKIPPED})

# Enough of a failing result's data to debug it without flooding the CI log.
DATA_PREVIEW_CHARS = 1500


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run the scim2-tester conformance checks against a SCIM server."
    )
    parser.add_argument(
        "--url", required=True, help="SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2"
    )
    parser.add_argument("--token", required=True, help="bearer token for the server")
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="per-request timeout in seconds (default: 30)",
    )
    parser.add_argument(
        "--require-resource-type",
        action="append",
        default=[],
        metavar="NAME",
        help="fail unless checks ran for this resource type (repeatable), "
        "so a server that publishes nothing cannot pass vacuously",
    )
    parser.add_argument(
        "--resource-type",
        action="append",
        default=None,
        metavar="NAME",
        help="only check these resource types (repeatable; default: all published)",
    )
    parser.add_argument(
        "--include-tag",
        action="append",
        default=None,
        metavar="TAG",
        help="only run checks with one of these tags (e.g. discovery, crud:read)",
    )
    parser.add_argument(
        "--exclude-tag",
        action="append",
        default=None,
        metavar="TAG",
        help="skip checks with one of these tags",
    )
    args = parser.parse_args(argv)
    if not args.token.strip():
        parser.error("--token must not be empty")
    if not args.url.startswith(("http://", "https://")):
        parser.error("--url must start with http:// or https://")
    return args


def preflight(http: httpx2.Client) -> str | None:
    """Return why the server cannot be tested, or None when it answers with our token.

    scim2-tester would record an unreachable server as a handful of ERROR results;
    a single clear message is easier to act on.
    """
    try:
        response = http.get("ServiceProviderConfig")
    except httpx2.RequestError as exc:
        return f"cannot reach {http.base_url}: {type(exc).__name__}: {exc}"
    if response.status_code in (401, 403):
        return (
            f"GET {response.request.url} answered {response.status_code}: "
            "the server rejected the bearer token"
        )
    return None


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def preview(data: object) -> str:
    text = data if isinstance(data, str) else repr(data)
    if len(text) > DATA_PREVIEW_CHARS:
        text = text[:DATA_PREVIEW_CHARS] + f"... ({len(text) - DATA_PREVIEW_CHARS} more chars)"
    return text


def report(result: CheckResult) -> None:
    scope = f"{result.resource_type}/" if result.resource_type else ""
    line = f"[{result.status.name:<10}] {scope}{result.title or '?'}"
    summary = first_line(result.description)
    if summary:
        line += f" - {summary}"
    reason = one_line(result.reason)
    if reason:
        line += f" => {reason}"
    print(line)
    if result.status in FAILING and result.data is not None:
        print(f"    data: {preview(result.data)}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # httpx2 joins relative endpoints onto the base URL's path only when it ends with "/".
    base_url = args.url.rstrip("/") + "/"

    # trust_env=False: the server under test is local, so no proxy from the environment.
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=args.timeout,
        trust_env=False,
    )
    with http:
        problem = preflight(http)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1

        # The client starts with no description of the server: check_server queries
        # the discovery endpoints, checks them, and registers what they publish on
        # the client before exercising each published resource type.
        client = SyncSCIMClient(http)
        try:
            results = check_server(
                client,
                raise_exceptions=False,
                include_tags=set(args.include_tag) if args.include_tag else None,
                exclude_tags=set(args.exclude_tag) if args.exclude_tag else None,
                resource_types=args.resource_type,
            )
        except Exception:  # noqa: BLE001 - any crash of the library fails the run
            traceback.print_exc()
            print("error: scim2-tester crashed before finishing its checks", file=sys.stderr)
            return 1

    for result in results:
        report(result)

    counts = Counter(result.status for result in results)
    failed = sum(counts[status] for status in FAILING)
    skipped = sum(counts[status] for status in NOT_RUN)
    passed = len(results) - failed - skipped

    problems = []
    if not results:
        problems.append("scim2-tester produced no result at all")
    exercised = {result.resource_type for result in results if result.resource_type}
    for name in args.require_resource_type:
        if name not in exercised:
            problems.append(
                f"no check ran for resource type {name!r} "
                f"(exercised: {', '.join(sorted(exercised)) or 'none'})"
            )

    print()
    print("Summary by status:")
    for status in Status:
        print(f"  {status.name:<10} {counts[status]}")
    if counts[Status.DEVIATION]:
        print(f"warning: {counts[Status.DEVIATION]} result(s) deviate from a SHOULD of the RFCs")
    # Everything after the checks goes to stdout so CI logs keep it in order.
    for problem in problems:
        print(f"error: {problem}")
    if failed:
        print(f"error: {failed} check result(s) have status ERROR or CRITICAL")
    # A plain closing line that CI log readers recognise; it counts the problems above too.
    failed += len(problems)
    print(f"conformance: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
