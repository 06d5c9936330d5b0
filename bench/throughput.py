#!/usr/bin/env python3
"""bench/throughput.py: hubgate's throughput against baselines, in one session on loopback.

Every scenario sends the same kind of POST through a proxy to the same mock HubSpot upstream
(tests/mock_hubspot --canned: one thread, recording off, a fixed answer) with wrk, one connection pool, and prints
requests/s, p50 and p99 latency and the ratio to its baseline. Scenarios run interleaved for
several rounds, since this box's noise (±10-25%) is larger than the differences between plain
proxies; the table shows the median round.

  h2o-proxy            the stock h2o 2.2.5 server (Debian's `h2o`) as a plain reverse proxy
  hubgate-proxy        hubgate forwarding an unmatched path (unmatched: forward): hygiene,
                       request id, a cached token check, no scope, schema or normalization
  hubgate-cold-token   as hubgate-proxy with the verified-token cache off (cache_entries: 0)
  hubgate-N            the full pipeline (cached token, scopes, strict parse, normalization,
                       schema, canonical body, audit to SQLite) for a body of N inputs
  hubgate-N-noaudit    the same without any audit store
  hubgate-N-audit+jsonl  SQLite and a JSONL file

Usage: bench/throughput.py [--build DIR] [--duration S] [--rounds N] [--connections C] [--quick]
Needs wrk, h2o (Debian packages) and a built tree (hubgate, tests/mock_hubspot).
"""
import argparse
import atexit
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.environ.get("HUBGATE_BUILDDIR") or os.path.join(SRCDIR, "_build"))
    p.add_argument("--duration", type=float, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--quick", action="store_true", help="1 round of 2 s, a subset of the scenarios")
    p.add_argument("--only", default="", help="comma-separated scenario names")
    return p.parse_args()


ARGS = parse_args()
os.environ.setdefault("HUBGATE_SRCDIR", SRCDIR)
os.environ["HUBGATE_BUILDDIR"] = os.path.abspath(ARGS.build)
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
import hg  # noqa: E402


def body_of(n):
    return hg.inputs_body(*[(str(1000 + i), str(500000 + i)) for i in range(n)])


def wrk(url, body, token, duration, connections):
    """Runs wrk with a POST of body; returns (req/s, p50 ms, p99 ms, 0). Any non-2xx answer or socket
    error stops the run: a refusal is quicker than a forwarded request, so its figure would lie."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fp:
        body_text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        fp.write('wrk.method = "POST"\nwrk.body = [==[%s]==]\n' % body_text)
        fp.write('wrk.headers["Content-Type"] = "application/json"\n')
        if token:
            fp.write('wrk.headers["Authorization"] = "Bearer %s"\n' % token)
        script = fp.name
    try:
        out = subprocess.run(["wrk", "-t1", "-c%d" % connections, "-d%ds" % duration, "--latency", "-s", script, url],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True).stdout.decode()
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))

    def pct(name):
        m = re.search(r"\s%s%%\s+([0-9.]+)(us|ms|s)" % name, out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    if non2xx or errors:
        # a refusal is answered faster than a forwarded request: such a figure would measure the wrong thing
        sys.exit("bench: %s: %s%s" % (url, "%s non-2xx answers " % non2xx.group(1) if non2xx else "", errors.group(0) if errors else ""))
    return rps, pct("50"), pct("99"), 0


class H2OProxy:
    """Debian's h2o server as a plain reverse proxy to the mock, on one thread."""

    def __init__(self, upstream_url):
        self.dir = hg.new_dir("h2o")
        self.port = hg.free_port()
        conf = os.path.join(self.dir, "h2o.conf")
        with open(conf, "w") as fp:
            fp.write("listen:\n  host: 127.0.0.1\n  port: %d\nnum-threads: 1\n" % self.port)
            fp.write("proxy.emit-x-forwarded-headers: OFF\nproxy.emit-via-header: OFF\n")
            fp.write("hosts:\n  default:\n    paths:\n      /:\n        proxy.reverse.url: %s/\n" % upstream_url)
        self.proc = subprocess.Popen(["h2o", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(self.stop)  # also when the run stops early (hg stops its own processes likewise)
        self.url = "http://127.0.0.1:%d" % self.port
        hg.wait_until(lambda: self._up(), what="h2o listening")

    def _up(self):
        try:
            hg.request("GET", self.url + "/__mock/health", timeout=1)
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def main():
    for tool in ("wrk", "h2o"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s is not installed (apt-get install %s)" % (tool, tool))
    if not os.path.exists(hg.HUBGATE):
        sys.exit("bench: no %s: build first" % hg.HUBGATE)
    duration, rounds = (2, 1) if ARGS.quick else (ARGS.duration, ARGS.rounds)

    mock = hg.Mock(args=["--record-limit", "0", "--canned"])
    key = hg.Key("HS256", kid="bench")
    # valid for the whole run: a full run takes longer than the harness's default five minutes
    token = hg.mint("HS256", key, hg.claims(scope="crm.objects.contacts.write", ttl=86400))
    procs = {}

    def gateway(name, **over):
        cfg = hg.gateway_config(mock.url, [key], scopes_any=["crm.objects.contacts.write"], **over)
        procs[name] = hg.Gateway(cfg)
        return procs[name]

    h2o = H2OProxy(mock.url)
    # proxy-only: the association path matches no route and is forwarded as it is (a token is still checked)
    elsewhere = [{"name": "elsewhere", "method": "POST", "path": "/hubgate/bench/unused", "scopes_any": ["x"], "normalize": "none",
                  "schema": os.path.join(SRCDIR, "schemas", "batch-associate-default.request.json")}]
    g_proxy = gateway("proxy", unmatched="forward", routes=elsewhere, audit={"sqlite": None})
    g_cold = gateway("cold", unmatched="forward", routes=elsewhere, audit={"sqlite": None}, auth={"cache_entries": 0})
    g_full = gateway("full")
    g_noaudit = gateway("noaudit", audit={"sqlite": None})
    g_jsonl = gateway("jsonl", audit={"sqlite": "$dir/audit.db", "jsonl": "$dir/audit.jsonl"})

    path = hg.endpoint("contacts", "companies")
    other = hg.endpoint("0-1", "0-2")  # canonical already, so the mock does the same work for every scenario
    small = body_of(1)
    scenarios = [
        ("h2o-proxy", h2o.url + other, small, "upstream-token", None),
        ("hubgate-proxy", g_proxy.url + other, small, token, "h2o-proxy"),
        ("hubgate-cold-token", g_cold.url + other, small, token, "hubgate-proxy"),
        ("hubgate-1", g_full.url + path, small, token, "hubgate-proxy"),
        ("hubgate-1-noaudit", g_noaudit.url + path, small, token, "hubgate-proxy"),
        ("hubgate-1-audit+jsonl", g_jsonl.url + path, small, token, "hubgate-1-noaudit"),
        ("hubgate-100", g_full.url + path, body_of(100), token, "hubgate-proxy-100"),
        ("hubgate-proxy-100", g_proxy.url + other, body_of(100), token, None),
        ("hubgate-100-noaudit", g_noaudit.url + path, body_of(100), token, "hubgate-100"),
        ("hubgate-100-audit+jsonl", g_jsonl.url + path, body_of(100), token, "hubgate-100-noaudit"),
        ("hubgate-2000", g_full.url + path, body_of(2000), token, "hubgate-proxy-2000"),
        ("hubgate-2000-noaudit", g_noaudit.url + path, body_of(2000), token, "hubgate-proxy-2000"),
        ("hubgate-proxy-2000", g_proxy.url + other, body_of(2000), token, None),
    ]
    if ARGS.only:
        keep = set(ARGS.only.split(","))
        scenarios = [s for s in scenarios if s[0] in keep or any(s[0] == t[4] and t[0] in keep for t in scenarios)]
    elif ARGS.quick:
        keep = {"h2o-proxy", "hubgate-proxy", "hubgate-1", "hubgate-100", "hubgate-proxy-100"}
        scenarios = [s for s in scenarios if s[0] in keep]

    results = {name: [] for name, *_ in scenarios}
    for r in range(rounds):
        for name, url, body, tok, _ in scenarios:
            results[name].append(wrk(url, body, tok, duration, ARGS.connections))
            print("round %d %-24s %9.0f req/s" % (r + 1, name, results[name][-1][0]), file=sys.stderr, flush=True)

    def median_run(name):
        runs = sorted(results[name], key=lambda x: x[0])
        return runs[len(runs) // 2]

    print("\n%-24s %10s %9s %9s %8s  %s" % ("scenario", "req/s", "p50 ms", "p99 ms", "non-2xx", "ratio to baseline"))
    for name, _, body, _, base in scenarios:
        rps, p50, p99, bad = median_run(name)
        ratio = ""
        if base is not None and base in results:
            ratio = "%.2fx %s" % (rps / median_run(base)[0], base)
        print("%-24s %10.0f %9.2f %9.2f %8d  %s" % (name, rps, p50, p99, bad, ratio))
    print("\n(%d round(s) of %gs, %d connections, wrk 1 thread; hubgate 1 worker, h2o 1 thread, mock 1 thread)"
          % (rounds, duration, ARGS.connections))

    # what the pipeline adds to one request, without queueing: one connection, median latency, full pipeline
    # (no audit store) against the proxy-only path with the same body
    print("\n%-12s %14s %14s %10s" % ("inputs", "proxy p50 ms", "full p50 ms", "added ms"))
    for n in (1, 100, 2000):
        lat = {}
        for name, url in (("proxy", g_proxy.url + other), ("full", g_noaudit.url + path)):
            runs = [wrk(url, body_of(n), token, max(1, duration / 2), 1)[1] for _ in range(rounds)]
            lat[name] = sorted(runs)[len(runs) // 2]
        print("%-12d %14.3f %14.3f %10.3f" % (n, lat["proxy"], lat["full"], lat["full"] - lat["proxy"]))
    # the audit writer under that load: its transactions' sizes and the queue's high-water mark
    print("\n%-16s %9s %8s %10s %10s  %s" % ("audit writer", "records", "batches", "avg batch", "max queue", "batches by size (le)"))
    for name, g in (("sqlite", g_full), ("sqlite+jsonl", g_jsonl)):
        stats = hg.request("GET", g.admin_url + "/metrics").body.decode()

        def metric(pattern):
            m = re.search(r"^%s (\d+)" % pattern, stats, re.M)
            return int(m.group(1)) if m else 0

        written, batches = metric("hubgate_audit_batch_size_sum"), metric("hubgate_audit_batch_size_count")
        buckets, below = [], 0
        for le in ("1", "3", "7", "15", "31", "63", "127", "255", "511", r"\+Inf"):
            n = metric('hubgate_audit_batch_size_bucket\\{le="%s"\\}' % le)
            buckets.append("%s:%d" % (le.replace("\\", ""), n - below))
            below = n
        print("%-16s %9d %8d %10.1f %10d  %s" % (name, written, batches, written / batches if batches else 0,
                                                  metric("hubgate_audit_queue_depth_max"), " ".join(buckets)))
    for g in procs.values():
        g.stop()
    h2o.stop()
    mock.stop()


if __name__ == "__main__":
    main()
