#!/usr/bin/env python3
"""User-space instructions per request of the sidecar, counted by callgrind: a deterministic
figure for before/after comparisons, where timings on a shared machine vary by ±20 %.

    python3 benches/instructions.py                       # every operation, the current build
    python3 benches/instructions.py --ops get,deactivate --sidecar-bin /tmp/old/scim-sidecar

Starts the example application (1,000 users) and the sidecar under `valgrind --tool=callgrind`
with instrumentation off, warms up with reads (every user name once for `filter`), switches
instrumentation on for N sequential requests, and divides. Needs valgrind (apt-get install -y
valgrind). The callgrind file of each run is kept in target/bench/ for callgrind_annotate.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (the driver's helpers: servers, ports, config)

PATCH = (
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
    '"Operations":[{"op":"replace","value":{"active":%s}}]}'
)
OPS = ["get", "filter", "deactivate", "create", "list100"]


def request(conn, headers, op: str, i: int, users: int) -> None:
    k = i % users + 1
    uid = bench.FIRST_ID + k - 1
    if op == "get":
        conn.request("GET", f"/scim/v2/Users/{uid}", headers=headers)
    elif op == "filter":
        path = f"/scim/v2/Users?filter=userName%20eq%20%22user{k}%40example.com%22"
        conn.request("GET", path, headers=headers)
    elif op == "deactivate":
        active = "false" if (i // users) % 2 == 0 else "true"
        conn.request("PATCH", f"/scim/v2/Users/{uid}", body=PATCH % active, headers=headers)
    elif op == "list100":
        conn.request("GET", "/scim/v2/Users?startIndex=1&count=100", headers=headers)
    else:
        name = f"ins{i}-{os.getpid()}"
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"{name}@example.com",
            "name": {"givenName": "Bench", "familyName": name},
            "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
            "displayName": f"Bench {name}", "externalId": f"00u{name}", "active": True,
        }
        conn.request("POST", "/scim/v2/Users", body=json.dumps(body), headers=headers)
    resp = conn.getresponse()
    resp.read()
    if resp.status >= 300:
        raise RuntimeError(f"{op}: status {resp.status}")


def count(b: bench.Bench, sidecar_bin: str, op: str, n: int, out_dir: Path) -> float:
    users = b.s.users
    app, app_port = b.start_app(users)
    port = bench.free_port()
    conf = b.dir / f"callgrind-{op}.toml"
    conf.write_text(bench.SIDECAR_CONF.format(
        port=port, token_sha256=hashlib.sha256(b.token.encode()).hexdigest(),
        mapping=bench.ROOT / "mappings/example-app/mapping.toml",
        app_url=f"http://127.0.0.1:{app_port}", cache_entries=100000))
    out = b.dir / f"callgrind-{op}.out"
    env = dict(os.environ, LEGACY_APP_API_KEY=b.api_key)
    env.pop("RUST_LOG", None)
    with open(b.dir / "callgrind-sidecar.log", "ab") as log:
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sidecar_bin, "serve", "--config", str(conf)],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    headers = {"Authorization": f"Bearer {b.token}", "Content-Type": "application/scim+json"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if bench.http_get(port, "/healthz", {})[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sidecar did not start under valgrind")
            time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        warm_op = "filter" if op == "filter" else "get"
        for i in range(users if op == "filter" else 200):
            request(conn, headers, warm_op, i, users)
        ctl = ["callgrind_control"]
        subprocess.run([*ctl, "-i", "on", str(proc.pid)], check=True, capture_output=True)
        for i in range(n):
            request(conn, headers, op, i, users)
        subprocess.run([*ctl, "-i", "off", str(proc.pid)], check=True, capture_output=True)
        subprocess.run([*ctl, "-d", str(proc.pid)], check=True, capture_output=True)
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        app.stop()
    # The dump holding the measured requests is the one with the most instructions.
    best, best_file = 0, None
    for f in b.dir.glob(out.name + "*"):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
                if total > best:
                    best, best_file = total, f
    if best_file:
        shutil.copy(best_file, out_dir / f"callgrind-{op}.out")
    return best / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ops", default=",".join(OPS))
    p.add_argument("--requests", type=int, default=400, help="measured requests (list100: /10)")
    p.add_argument("--sidecar-bin", help="another scim-sidecar binary")
    p.add_argument("--no-build", action="store_true")
    a = p.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is needed: apt-get install -y valgrind")
    s, _ = bench.parse_args(["--no-build"] if a.no_build else [])
    bins = bench.build(a.no_build)
    s.bins.update(bins)
    sidecar = a.sidecar_bin or bins["sidecar"]
    out_dir = Path(s.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scim-callgrind-") as tmp:
        b = bench.Bench(s, Path(tmp))
        for op in [o for o in a.ops.split(",") if o]:
            if op not in OPS:
                sys.exit(f"unknown op {op} (one of {', '.join(OPS)})")
            n = max(1, a.requests // 10) if op == "list100" else a.requests
            per = count(b, sidecar, op, n, out_dir)
            print(f"{op:<10} {per / 1000:10.1f} k instructions per request ({n} requests)",
                  flush=True)


if __name__ == "__main__":
    main()
