"""test_ops.py: what an ops team sees of hubgate, through the real binary and the mock (issue 7).

CONTRACT.md sections 2 (signals) and 8 (admin listener), checked from outside:
- the admin endpoints: /healthz, /readyz, /metrics (Prometheus text 0.0.4, every metric the
  contract names, counters that move by exactly what the traffic did), /config (the running
  configuration as JSON, secrets "<redacted>", no secret value anywhere in it), 404 and 405;
- admin.token_file: every endpoint but the probes needs "Authorization: Bearer <token>";
- SIGHUP: a new scope list changes the answers on a keep-alive connection opened before the
  reload, in the same process; a broken file is refused with FILE:LINE lines and changes
  nothing; a new `listen` is logged as needing a restart; hubgate_config_reloads_total{result};
- SIGUSR1: a renamed access log (and JSONL audit file) is reopened at its path;
- SIGTERM and SIGINT: /readyz turns 503 "draining" while a slow request finishes, exit 0;
- workers: 2: both workers serve (each keeps its own verified-token cache, so two cache misses
  for one token over many connections show that both saw it).
Every test starts its own gateway (a few tens of milliseconds each); the whole file runs in
about ten seconds.
"""

import json
import os
import re
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hg  # noqa: E402

ROUTE = "create-default-associations"
UPSTREAM_TOKEN = "hubspot-private-app-token-7f3a9c"
ADMIN_TOKEN = "admin-token-4b1d2e8f0c"
CONTACTS_WRITE = "crm.objects.contacts.write"
COMPANIES_WRITE = "crm.objects.companies.write"
TEXT_PLAIN = re.compile(r"^text/plain(;|$)")
JSON_TYPE = re.compile(r"^application/json(;|$)")
METRICS_TYPE = re.compile(r"^text/plain; ?version=0\.0\.4(;|$)")

#: every metric the contract names, with its Prometheus type
CONTRACT_METRICS = {
    "hubgate_requests_total": "counter",
    "hubgate_request_duration_seconds": "histogram",
    "hubgate_upstream_duration_seconds": "histogram",
    "hubgate_jwt_cache_hits_total": "counter",
    "hubgate_jwt_cache_misses_total": "counter",
    "hubgate_audit_written_total": "counter",
    "hubgate_audit_dropped_total": "counter",
    "hubgate_audit_queue_depth": "gauge",
    "hubgate_config_reloads_total": "counter",
}

_key = None


def key():
    """The HS256 key every gateway of this file trusts (its secret file appears in /config)."""
    global _key
    if _key is None:
        _key = hg.new_key("HS256", "h1")
    return _key


def token(scope=CONTACTS_WRITE, **kw):
    return hg.mint("HS256", key(), hg.claims(scope=scope, **kw))


def config(mock, scopes_any=(CONTACTS_WRITE,), **overrides):
    return hg.gateway_config(mock.url, [key()], upstream_token=UPSTREAM_TOKEN, scopes_any=list(scopes_any), **overrides)


def post(gw, tok, pair=("1", "2"), client=None):
    headers = hg.bearer(tok) if tok is not None else {}
    if client is not None:
        return client.request("POST", hg.endpoint(), headers, hg.inputs_body(pair))
    return gw.request("POST", hg.endpoint(), headers, hg.inputs_body(pair))


# ---------------------------------------------------------------------------
# Prometheus text

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


class Metrics:
    """A parsed exposition: samples {(name, frozenset of label pairs): value}, types {name: type}."""

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.types = {}
        self.helps = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, typ = line.split(" ", 3)
                self.types[name] = typ
                continue
            if line.startswith("# HELP "):
                parts = line.split(" ", 3)
                self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
                continue
            if not line or line.startswith("#"):
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise AssertionError("not a sample line: %r" % line)
            labels = m.group(2) or ""
            pairs = _LABEL.findall(labels)
            if "".join('%s="%s",' % p for p in pairs).rstrip(",") != labels.rstrip(","):
                raise AssertionError("bad labels in %r" % line)
            key_ = (m.group(1), frozenset(pairs))
            if key_ in self.samples:
                raise AssertionError("duplicate series %r" % line)
            self.samples[key_] = float(m.group(3))

    def get(self, name, **labels):
        """The value of one series (0 when absent: a counter not yet created)."""
        return self.samples.get((name, frozenset((k, str(v)) for k, v in labels.items())), 0.0)

    def series(self, name):
        """{frozenset of labels: value} of every series of name."""
        return {lab: v for (n, lab), v in self.samples.items() if n == name}

    def requests(self, decision, status, route=ROUTE):
        return self.get("hubgate_requests_total", route=route, decision=decision, status=status)


def scrape(gw, headers=None):
    r = gw.admin("GET", "/metrics", headers)
    assert r.status == 200, r
    return Metrics(r.text)


def wait_metrics(gw, predicate, what, headers=None):
    """Scrapes until predicate(Metrics) holds (request counters are bumped when h2o logs the
    request, just after its answer went out); returns that scrape."""
    box = {}

    def ok():
        box["m"] = scrape(gw, headers)
        return predicate(box["m"])

    try:
        hg.wait_until(ok, timeout=5, what=what)
    except AssertionError:
        raise AssertionError("timed out waiting for %s; last scrape:\n%s" % (what, box["m"].text))
    return box["m"]


def reloads(m, result):
    return m.get("hubgate_config_reloads_total", result=result)


def line_of(text, needle):
    """1-based number of the first line of text that contains needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in the configuration" % needle)


def log_msg_rx(level, event, message_rx):
    """A regex for one of hubgate's logfmt lines (log.c: quotes in msg are backslash-escaped)."""
    return r'^ts=\S+ level=%s event=%s msg="%s"$' % (level, event, message_rx)


class OpsCase(unittest.TestCase):
    """One mock per class (cleared before each test); each test starts its own gateway."""

    mock_args = {}

    @classmethod
    def setUpClass(cls):
        cls.mock = hg.Mock(**cls.mock_args)

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def setUp(self):
        self.mock.clear()
        self.gateways = []

    def tearDown(self):
        for gw in self.gateways:
            rc = gw.stop()
            self.assertEqual(rc, 0, gw.stderr())

    def start(self, cfg, **kw):
        gw = hg.Gateway(cfg, **kw)
        self.gateways.append(gw)
        return gw


# ---------------------------------------------------------------------------
# admin endpoints


class TestAdminEndpoints(OpsCase):
    def test_healthz(self):
        gw = self.start(config(self.mock))
        r = gw.admin("GET", "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        self.assertRegex(r.headers["Content-Type"], TEXT_PLAIN)

    def test_readyz_once_ready(self):
        gw = self.start(config(self.mock))
        r = gw.admin("GET", "/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.headers["Content-Type"], TEXT_PLAIN)
        self.assertNotIn("not ready", r.text)

    def test_metrics_names_types_and_format(self):
        gw = self.start(config(self.mock))
        r = gw.admin("GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.headers["Content-Type"], METRICS_TYPE)
        m = Metrics(r.text)
        for name, typ in CONTRACT_METRICS.items():
            with self.subTest(metric=name):
                self.assertEqual(m.types.get(name), typ)
                self.assertIn(name, m.helps)
        # samples that exist before any traffic
        for name in ("hubgate_jwt_cache_hits_total", "hubgate_jwt_cache_misses_total", "hubgate_audit_written_total",
                     "hubgate_audit_dropped_total", "hubgate_audit_queue_depth"):
            self.assertIn((name, frozenset()), m.samples, name)
        self.assertEqual(set(m.series("hubgate_config_reloads_total")),
                         {frozenset({("result", "success")}), frozenset({("result", "failure")})})
        self.assertEqual((reloads(m, "success"), reloads(m, "failure")), (0, 0))
        for hist in ("hubgate_request_duration_seconds", "hubgate_upstream_duration_seconds"):
            with self.subTest(histogram=hist):
                self.assertIn(("%s_sum" % hist, frozenset()), m.samples)
                self.assertIn(("%s_count" % hist, frozenset()), m.samples)
                self.assertIn(("%s_bucket" % hist, frozenset({("le", "+Inf")})), m.samples)

    def test_counters_move_with_traffic(self):
        """3 forwarded (one token: 1 cache miss, 2 hits), 1 refused for scope (another token:
        1 miss), 1 refused without a token (no cache lookup): exact deltas per series."""
        gw = self.start(config(self.mock))
        good, other = token(), token(scope=COMPANIES_WRITE)
        before = scrape(gw)
        self.assertEqual([post(gw, good, (str(i), "2")).status for i in (1, 2, 3)], [200, 200, 200])
        self.assertEqual(post(gw, other).status, 403)
        self.assertEqual(post(gw, None).status, 401)

        def done(m):
            return (m.get("hubgate_request_duration_seconds_count") - before.get("hubgate_request_duration_seconds_count") >= 5
                    and m.get("hubgate_audit_written_total") - before.get("hubgate_audit_written_total") >= 5)

        after = wait_metrics(gw, done, "5 requests in the metrics")

        def delta(name, **labels):
            return after.get(name, **labels) - before.get(name, **labels)

        self.assertEqual(delta("hubgate_requests_total", route=ROUTE, decision="forwarded", status=200), 3)
        self.assertEqual(delta("hubgate_requests_total", route=ROUTE, decision="rejected_scope", status=403), 1)
        self.assertEqual(delta("hubgate_requests_total", route=ROUTE, decision="rejected_auth", status=401), 1)
        self.assertEqual(sum(after.series("hubgate_requests_total").values())
                         - sum(before.series("hubgate_requests_total").values()), 5)
        self.assertEqual(delta("hubgate_request_duration_seconds_count"), 5)
        self.assertEqual(delta("hubgate_request_duration_seconds_bucket", le="+Inf"), 5)
        self.assertGreater(delta("hubgate_request_duration_seconds_sum"), 0)
        self.assertEqual(delta("hubgate_upstream_duration_seconds_count"), 3)
        self.assertEqual(delta("hubgate_upstream_duration_seconds_bucket", le="+Inf"), 3)
        self.assertGreater(delta("hubgate_upstream_duration_seconds_sum"), 0)
        self.assertEqual(delta("hubgate_jwt_cache_hits_total"), 2)
        self.assertEqual(delta("hubgate_jwt_cache_misses_total"), 2)
        self.assertEqual(delta("hubgate_audit_written_total"), 5)
        self.assertEqual(delta("hubgate_audit_dropped_total"), 0)
        self.assertEqual(after.get("hubgate_audit_queue_depth"), 0)
        # the writer's batches: 5 records in 1 to 5 transactions, each bucket cumulative, up to +Inf = count
        batches = delta("hubgate_audit_batch_size_count")
        self.assertEqual(delta("hubgate_audit_batch_size_sum"), 5)
        self.assertTrue(1 <= batches <= 5, batches)
        self.assertEqual(delta("hubgate_audit_batch_size_bucket", le="+Inf"), batches)
        buckets = [after.get("hubgate_audit_batch_size_bucket", le=le) for le in ("1", "3", "7", "15", "31", "63", "127", "255", "511", "+Inf")]
        self.assertEqual(buckets, sorted(buckets))
        self.assertGreaterEqual(after.get("hubgate_audit_queue_depth_max"), 1)
        self.assertEqual(after.types.get("hubgate_audit_batch_size"), "histogram")
        self.assertEqual(after.types.get("hubgate_audit_queue_depth_max"), "gauge")
        self.assertEqual(delta("hubgate_config_reloads_total", result="success"), 0)
        for hist in ("hubgate_request_duration_seconds", "hubgate_upstream_duration_seconds"):
            buckets = sorted(((float(dict(lab)["le"]), v) for lab, v in after.series(hist + "_bucket").items()))
            self.assertEqual(buckets[-1][0], float("inf"))
            counts = [v for _, v in buckets]
            self.assertEqual(counts, sorted(counts), "%s buckets are not cumulative" % hist)
            self.assertEqual(counts[-1], after.get(hist + "_count"))
        # a repeated token is a hit again; an unknown route is a series of its own
        self.assertEqual(post(gw, good).status, 200)
        self.assertEqual(gw.request("POST", "/nowhere", hg.bearer(good), {}).status, 404)
        again = wait_metrics(gw, lambda m: m.get("hubgate_request_duration_seconds_count")
                             - after.get("hubgate_request_duration_seconds_count") >= 2, "2 more requests")
        self.assertEqual(again.get("hubgate_jwt_cache_hits_total") - after.get("hubgate_jwt_cache_hits_total"), 1)
        self.assertEqual(again.get("hubgate_jwt_cache_misses_total"), after.get("hubgate_jwt_cache_misses_total"))
        self.assertEqual(again.requests("forwarded", 200) - after.requests("forwarded", 200), 1)
        self.assertEqual(sum(v for lab, v in again.series("hubgate_requests_total").items()
                             if ("decision", "rejected_route") in lab and ("status", "404") in lab), 1)

    def test_config_is_redacted(self):
        admin_dir = hg.new_dir("admin")
        token_file = hg.write_file(os.path.join(admin_dir, "admin.token"), ADMIN_TOKEN + "\n", 0o600)
        cfg = config(self.mock, admin={"listen": "127.0.0.1:$admin_port", "token_file": token_file})
        gw = self.start(cfg)
        r = gw.admin("GET", "/config", hg.bearer(ADMIN_TOKEN))
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.headers["Content-Type"], JSON_TYPE)
        doc = r.json
        self.assertIsInstance(doc, dict, r)
        # the running configuration
        self.assertEqual(doc["listen"], ["127.0.0.1:%d" % gw.port])
        self.assertEqual(doc["upstream"]["url"], self.mock.url)
        self.assertEqual(doc["upstream"]["credential"]["mode"], "inject")
        self.assertEqual(doc["routes"][0]["name"], ROUTE)
        self.assertEqual(doc["routes"][0]["scopes_any"], [CONTACTS_WRITE])
        self.assertEqual(doc["auth"]["issuers"][0]["issuer"], "https://idp.example.internal")
        self.assertEqual(doc["auth"]["issuers"][0]["keys"][0]["kid"], "h1")
        self.assertEqual(doc["auth"]["issuers"][0]["keys"][0]["alg"], "HS256")
        self.assertEqual(doc["workers"], 1)
        self.assertEqual(doc["admin"]["listen"], "127.0.0.1:%d" % gw.admin_port)
        # secrets and the files that hold them
        self.assertEqual(doc["upstream"]["credential"]["token_file"], "<redacted>")
        self.assertEqual(doc["auth"]["issuers"][0]["keys"][0]["secret_file"], "<redacted>")
        self.assertEqual(doc["admin"]["token_file"], "<redacted>")
        body = r.body
        upstream_token_file = cfg["upstream"]["credential"]["token_file"]
        secret_file = cfg["auth"]["issuers"][0]["keys"][0]["secret_file"]
        for needle in (UPSTREAM_TOKEN.encode(), ADMIN_TOKEN.encode(), key().secret, hg.b64url(key().secret).encode(),
                       key().secret.hex().encode(), upstream_token_file.encode(), secret_file.encode(), token_file.encode(),
                       b"upstream.token", b"admin.token", b"h1.secret"):
            with self.subTest(needle=needle):
                self.assertNotIn(needle, body)

    def test_unknown_path_is_404_json(self):
        gw = self.start(config(self.mock))
        for path in ("/nope", "/", "/healthz/", "/metrics/x"):
            with self.subTest(path=path):
                r = gw.admin("GET", path)
                self.assertEqual(r.status, 404, r)
                self.assertRegex(r.headers["Content-Type"], JSON_TYPE)
                self.assertEqual(r.json["status"], "error")
                self.assertEqual(r.json["category"], "OBJECT_NOT_FOUND")
                self.assertIn("message", r.json)

    def test_wrong_method_is_405(self):
        gw = self.start(config(self.mock))
        for method, path in (("POST", "/metrics"), ("PUT", "/config"), ("DELETE", "/healthz"), ("POST", "/readyz"),
                             ("POST", "/audit")):
            with self.subTest(method=method, path=path):
                r = gw.admin(method, path, body=b"")
                self.assertEqual(r.status, 405, r)
                self.assertEqual(r.headers.get("Allow"), "GET, HEAD")
                self.assertRegex(r.headers["Content-Type"], JSON_TYPE)
                self.assertEqual(r.json["status"], "error")


class TestAdminToken(OpsCase):
    def setUp(self):
        super().setUp()
        d = hg.new_dir("admin")
        token_file = hg.write_file(os.path.join(d, "admin.token"), ADMIN_TOKEN + "\n", 0o600)
        self.gw = self.start(config(self.mock, admin={"listen": "127.0.0.1:$admin_port", "token_file": token_file}))

    def test_protected_endpoints_need_the_token(self):
        for path in ("/metrics", "/config", "/audit"):
            for name, headers in (("none", {}), ("wrong", hg.bearer(ADMIN_TOKEN + "x")), ("prefix", hg.bearer(ADMIN_TOKEN[:-1])),
                                  ("basic", {"Authorization": "Basic " + hg.b64url(ADMIN_TOKEN)}),
                                  ("empty", {"Authorization": "Bearer "})):
                with self.subTest(path=path, auth=name):
                    r = self.gw.admin("GET", path, headers)
                    self.assertEqual(r.status, 401, r)
                    challenge = r.headers.get("WWW-Authenticate", "")
                    self.assertRegex(challenge, r'^Bearer realm="[^"]+"')
                    if name == "none":
                        self.assertNotIn("error=", challenge)
                    else:
                        self.assertIn('error="invalid_token"', challenge)
                    self.assertEqual(r.json["status"], "error")
                    self.assertEqual(r.json["category"], "INVALID_AUTHENTICATION")
                    self.assertNotIn(ADMIN_TOKEN, r.text)
            with self.subTest(path=path, auth="right"):
                r = self.gw.admin("GET", path, hg.bearer(ADMIN_TOKEN))
                self.assertEqual(r.status, 200, r)

    def test_probes_stay_open(self):
        for headers in ({}, hg.bearer("wrong")):
            r = self.gw.admin("GET", "/healthz", headers)
            self.assertEqual((r.status, r.body), (200, b"ok\n"))
            self.assertEqual(self.gw.admin("GET", "/readyz", headers).status, 200)

    def test_unknown_path_does_not_tell_without_the_token(self):
        self.assertEqual(self.gw.admin("GET", "/nope").status, 401)
        self.assertEqual(self.gw.admin("GET", "/nope", hg.bearer(ADMIN_TOKEN)).status, 404)

    def test_metrics_with_the_token(self):
        r = self.gw.admin("GET", "/metrics", hg.bearer(ADMIN_TOKEN))
        self.assertEqual(r.status, 200)
        self.assertRegex(r.headers["Content-Type"], METRICS_TYPE)
        self.assertEqual(set(CONTRACT_METRICS) - set(Metrics(r.text).types), set())


# ---------------------------------------------------------------------------
# SIGHUP


class TestReload(OpsCase):
    def local_port(self, client):
        return client.conn.sock.getsockname()[1] if client.conn.sock is not None else None

    def test_new_scopes_apply_on_a_kept_connection(self):
        cfg = config(self.mock, scopes_any=[CONTACTS_WRITE])
        gw = self.start(cfg)
        pid = gw.proc.pid
        contacts, companies = token(), token(scope=COMPANIES_WRITE)
        client = hg.Client(gw.url)
        self.addCleanup(client.close)
        self.assertEqual(post(gw, contacts, client=client).status, 200)
        self.assertEqual(post(gw, companies, client=client).status, 403)
        sock, port = client.conn.sock, self.local_port(client)
        self.assertIsNotNone(sock)

        gw.rewrite_config(hg.deep_merge(cfg, {"routes": [dict(cfg["routes"][0], scopes_any=[COMPANIES_WRITE])]}))
        gw.reload()
        gw.wait_log(log_msg_rx("info", "reload", r"configuration reloaded from %s" % re.escape(gw.config_path)))
        m = wait_metrics(gw, lambda m: reloads(m, "success") == 1, "reloads_total success 1")
        self.assertEqual(reloads(m, "failure"), 0)
        # one worker: once a new connection sees the new policy, the worker has taken it
        hg.wait_until(lambda: post(gw, contacts).status == 403, timeout=5, what="the new policy")

        r = post(gw, contacts, client=client)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json["category"], "MISSING_SCOPES")
        self.assertIn('scope="%s"' % COMPANIES_WRITE, r.headers["WWW-Authenticate"])
        self.assertEqual(post(gw, companies, client=client).status, 200)
        self.assertIs(client.conn.sock, sock, "the client had to reconnect")
        self.assertEqual(self.local_port(client), port)
        self.assertTrue(gw.alive())
        self.assertEqual(gw.proc.pid, pid)
        self.assertEqual(len(re.findall(r"event=started", gw.stderr())), 1, gw.stderr())
        # /config shows the new policy
        self.assertEqual(gw.admin("GET", "/config").json["routes"][0]["scopes_any"], [COMPANIES_WRITE])

    def test_broken_file_is_refused_and_changes_nothing(self):
        cfg = config(self.mock, scopes_any=[CONTACTS_WRITE])
        gw = self.start(cfg)
        contacts, companies = token(), token(scope=COMPANIES_WRITE)
        client = hg.Client(gw.url)
        self.addCleanup(client.close)
        self.assertEqual(post(gw, contacts, client=client).status, 200)
        sock = client.conn.sock

        broken = hg.deep_merge(cfg, {"upstream": {"bogus": 1}, "shutdown_timeout_ms": "soon",
                                     "routes": [dict(cfg["routes"][0], scopes_any=[COMPANIES_WRITE])]})
        gw.rewrite_config(broken)
        text = gw.config_text
        gw.reload()
        gw.wait_log(log_msg_rx("error", "reload", "refused: the running configuration stays"))
        path = re.escape(gw.config_path)
        gw.wait_log(log_msg_rx("error", "reload", r'%s:%d: /upstream/bogus: property \\"bogus\\" is not allowed'
                               % (path, line_of(text, "  bogus: 1"))))
        gw.wait_log(log_msg_rx("error", "reload", r"%s:%d: /shutdown_timeout_ms: must be an integer, not a string"
                               % (path, line_of(text, "shutdown_timeout_ms:"))))
        m = wait_metrics(gw, lambda m: reloads(m, "failure") == 1, "reloads_total failure 1")
        self.assertEqual(reloads(m, "success"), 0)
        self.assertEqual(post(gw, contacts, client=client).status, 200)
        self.assertEqual(post(gw, companies, client=client).status, 403)
        self.assertEqual(post(gw, contacts).status, 200)
        self.assertIs(client.conn.sock, sock)
        self.assertNotRegex(gw.stderr(), r"event=reload msg=\"configuration reloaded")
        self.assertEqual(gw.admin("GET", "/config").json["routes"][0]["scopes_any"], [CONTACTS_WRITE])

        # a file that is not YAML at all, then a good one again: counted each time
        gw.rewrite_config("listen: [\n  - x\n")
        gw.reload()
        wait_metrics(gw, lambda m: reloads(m, "failure") == 2, "reloads_total failure 2")
        self.assertEqual(post(gw, contacts).status, 200)
        gw.rewrite_config(cfg)
        gw.reload()
        m = wait_metrics(gw, lambda m: reloads(m, "success") == 1, "reloads_total success 1")
        self.assertEqual(reloads(m, "failure"), 2)
        self.assertEqual(post(gw, contacts).status, 200)

    def test_new_listen_needs_a_restart(self):
        cfg = config(self.mock)
        gw = self.start(cfg)
        other = hg.free_port()
        gw.rewrite_config(dict(cfg, listen=["127.0.0.1:%d" % other]))
        gw.reload()
        gw.wait_log(log_msg_rx("warn", "reload", r"listen changed: it takes effect after a restart"))
        gw.wait_log(log_msg_rx("info", "reload", r"configuration reloaded from .*"))
        self.assertEqual(reloads(scrape(gw), "success"), 1)
        self.assertEqual(post(gw, token()).status, 200)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", other), timeout=2).close()
        self.assertEqual(len(re.findall(r"event=reload msg=\"listen changed", gw.stderr())), 1)

    def test_rotated_key_applies_and_cached_tokens_go(self):
        """A token verified (and cached) under the old key is refused once the key file changes."""
        cfg = config(self.mock)
        gw = self.start(cfg)
        old_token = token()
        client = hg.Client(gw.url)
        self.addCleanup(client.close)
        self.assertEqual(post(gw, old_token, client=client).status, 200)
        self.assertEqual(post(gw, old_token, client=client).status, 200)  # now from the cache
        new_key = hg.new_key("HS256", "h1")
        new_cfg = json.loads(json.dumps(cfg))
        new_cfg["auth"]["issuers"][0]["keys"] = [new_key.config_entry(gw.dir, "rotated.secret")]
        gw.rewrite_config(new_cfg)
        gw.reload()
        wait_metrics(gw, lambda m: reloads(m, "success") == 1, "reloads_total success 1")
        new_token = hg.mint("HS256", new_key, hg.claims())
        hg.wait_until(lambda: post(gw, new_token).status == 200, timeout=5, what="the new key")
        r = post(gw, old_token, client=client)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json["category"], "INVALID_AUTHENTICATION")
        self.assertEqual(post(gw, new_token, client=client).status, 200)

    def test_admin_token_follows_the_file(self):
        d = hg.new_dir("admin")
        first = hg.write_file(os.path.join(d, "first.token"), ADMIN_TOKEN + "\n", 0o600)
        second = hg.write_file(os.path.join(d, "second.token"), "second-admin-token\n", 0o600)
        cfg = config(self.mock, admin={"listen": "127.0.0.1:$admin_port", "token_file": first})
        gw = self.start(cfg)
        self.assertEqual(gw.admin("GET", "/metrics", hg.bearer(ADMIN_TOKEN)).status, 200)
        gw.rewrite_config(hg.deep_merge(cfg, {"admin": {"token_file": second}}))
        gw.reload()
        gw.wait_log(log_msg_rx("info", "reload", r"configuration reloaded from .*"))
        self.assertEqual(gw.admin("GET", "/metrics", hg.bearer(ADMIN_TOKEN)).status, 401)
        self.assertEqual(gw.admin("GET", "/metrics", hg.bearer("second-admin-token")).status, 200)
        self.assertNotRegex(gw.stderr(), r"level=warn event=reload")

    def test_missing_file_is_refused(self):
        gw = self.start(config(self.mock))
        os.rename(gw.config_path, gw.config_path + ".away")
        gw.reload()
        gw.wait_log(log_msg_rx("error", "reload", r"%s.*" % re.escape(gw.config_path)))
        gw.wait_log(log_msg_rx("error", "reload", "refused: the running configuration stays"))
        m = wait_metrics(gw, lambda m: reloads(m, "failure") == 1, "reloads_total failure 1")
        self.assertEqual(reloads(m, "success"), 0)
        self.assertEqual(post(gw, token()).status, 200)
        os.rename(gw.config_path + ".away", gw.config_path)

    def test_counters_survive_a_reload(self):
        cfg = config(self.mock)
        gw = self.start(cfg)
        tok = token()
        self.assertEqual([post(gw, tok).status for _ in range(3)], [200] * 3)
        before = wait_metrics(gw, lambda m: m.requests("forwarded", 200) == 3, "3 forwarded")
        self.assertEqual((before.get("hubgate_jwt_cache_misses_total"), before.get("hubgate_jwt_cache_hits_total")), (1, 2))
        gw.rewrite_config(hg.deep_merge(cfg, {"routes": [dict(cfg["routes"][0], name="renamed")]}))
        gw.reload()
        # the route's name in X-Hubgate-Route tells which policy answered: the old one (and its token cache: a hit)
        # until the worker takes the new one (a new cache: one miss)
        routes = []
        hg.wait_until(lambda: routes.append(post(gw, tok).headers["X-Hubgate-Route"]) or routes[-1] == "renamed", timeout=5,
                      what="the renamed route")
        self.assertEqual(set(routes[:-1]) - {ROUTE}, set(), routes)
        self.assertEqual(post(gw, tok).status, 200)
        old = len(routes) - 1
        # the success is counted once the main thread has handed the configuration to every worker, which can
        # be a moment after a worker already answers with it
        after = wait_metrics(gw, lambda m: m.requests("forwarded", 200, route="renamed") == 2 and reloads(m, "success") == 1,
                             "2 on the renamed route, 1 reload")
        self.assertEqual(after.requests("forwarded", 200), 3 + old)
        self.assertEqual(reloads(after, "success"), 1)
        self.assertEqual((after.get("hubgate_jwt_cache_misses_total"), after.get("hubgate_jwt_cache_hits_total")), (2, 3 + old))
        self.assertEqual(after.get("hubgate_request_duration_seconds_count"), 5 + old)
        self.assertEqual(after.get("hubgate_upstream_duration_seconds_count"), 5 + old)

    def test_unchanged_file_logs_no_restart_warning(self):
        gw = self.start(config(self.mock))
        gw.reload()
        gw.wait_log(log_msg_rx("info", "reload", r"configuration reloaded from .*"))
        self.assertNotRegex(gw.stderr(), r"level=warn event=reload")
        self.assertEqual(post(gw, token()).status, 200)


# ---------------------------------------------------------------------------
# SIGUSR1


class TestReopen(OpsCase):
    def read_lines(self, path):
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as fp:
            return [json.loads(line) for line in fp.read().splitlines()]

    def wait_request_id(self, path, rid):
        return hg.wait_until(lambda: [x for x in self.read_lines(path) if x.get("request_id") == rid], timeout=5,
                             what="%s in %s" % (rid, path))

    def rotate(self, gw, paths):
        old = {}
        for p in paths:
            old[p] = p + ".1"
            os.rename(p, old[p])
        before = len(re.findall(r"event=reopen", gw.stderr()))
        gw.reopen_logs()
        hg.wait_until(lambda: len(re.findall(log_msg_rx("info", "reopen", "log files reopened"), gw.stderr(), re.M)) > before,
                      timeout=5, what="the reopen log line")
        return old

    def test_access_log(self):
        gw = self.start(config(self.mock, log={"access": "$dir/access.log"}))
        path = os.path.join(gw.dir, "access.log")
        r1 = post(gw, token())
        self.assertEqual(r1.status, 200)
        self.wait_request_id(path, r1.headers["X-Request-Id"])
        old = self.rotate(gw, [path])[path]
        r2 = post(gw, token(), ("3", "4"))
        self.assertEqual(r2.status, 200)
        lines = self.wait_request_id(path, r2.headers["X-Request-Id"])
        self.assertEqual(lines[0]["status"], 200)
        self.assertEqual([x["request_id"] for x in self.read_lines(path)], [r2.headers["X-Request-Id"]])
        self.assertEqual([x["request_id"] for x in self.read_lines(old)], [r1.headers["X-Request-Id"]])
        # a second rotation works the same way
        older = self.rotate(gw, [path])[path]
        r3 = post(gw, None)
        self.assertEqual(r3.status, 401)
        self.wait_request_id(path, r3.headers["X-Request-Id"])
        self.assertEqual([x["request_id"] for x in self.read_lines(path)], [r3.headers["X-Request-Id"]])
        self.assertEqual([x["request_id"] for x in self.read_lines(older)], [r2.headers["X-Request-Id"]])

    def test_audit_jsonl(self):
        gw = self.start(config(self.mock, audit={"sqlite": None, "jsonl": "$dir/audit.jsonl"}))
        path = os.path.join(gw.dir, "audit.jsonl")
        r1 = post(gw, token())
        self.assertEqual(r1.status, 200)
        self.wait_request_id(path, r1.headers["X-Request-Id"])
        old = self.rotate(gw, [path])[path]
        r2 = post(gw, token(), ("3", "4"))
        self.assertEqual(r2.status, 200)
        self.wait_request_id(path, r2.headers["X-Request-Id"])
        self.assertEqual([x["request_id"] for x in self.read_lines(path)], [r2.headers["X-Request-Id"]])
        self.assertEqual([x["request_id"] for x in self.read_lines(old)], [r1.headers["X-Request-Id"]])


# ---------------------------------------------------------------------------
# SIGTERM, SIGINT


class TestDrain(OpsCase):
    mock_args = {"slow_ms": 800}

    def drain(self, sig):
        gw = self.start(config(self.mock, shutdown_timeout_ms=5000))
        box = {}

        def call():
            try:
                box["r"] = post(gw, token(), (hg.MAGIC["slow"], "7"))
            except Exception as e:  # noqa: BLE001 (reported below)
                box["r"] = e

        t = threading.Thread(target=call)
        t.start()
        self.mock.wait_requests(1)
        t0 = time.monotonic()
        gw.send_signal(sig)
        seen = {}

        def not_ready():
            r = gw.admin("GET", "/readyz", timeout=2)
            if r.status == 503:
                seen["r"], seen["in_flight"] = r, t.is_alive()
                return True
            return False

        hg.wait_until(not_ready, timeout=0.7, interval=0.005, what="/readyz 503 while the slow request runs")
        self.assertTrue(seen["in_flight"], "the slow request ended before /readyz said 503")
        self.assertRegex(seen["r"].headers["Content-Type"], TEXT_PLAIN)
        self.assertIn("draining", seen["r"].text)
        # probes still answer while draining
        r = gw.admin("GET", "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        t.join(10)
        r = box["r"]
        self.assertEqual(getattr(r, "status", r), 200)
        self.assertEqual(r.json["results"][0]["from"]["id"], hg.MAGIC["slow"])
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        gw.proc.wait(5)
        self.assertEqual(gw.proc.returncode, 0, gw.stderr())
        self.assertRegex(gw.stderr(), r"event=draining")
        self.assertRegex(gw.stderr(), r"event=stopped")
        self.assertNotRegex(gw.stderr(), r"still in flight")

    def test_sigterm(self):
        self.drain(signal.SIGTERM)

    def test_sigint(self):
        self.drain(signal.SIGINT)

    def test_reload_with_a_request_in_flight(self):
        """The request keeps the policy it started with; the next one gets the new one."""
        cfg = config(self.mock)
        gw = self.start(cfg)
        box = {}
        tok = token()
        t = threading.Thread(target=lambda: box.update(r=post(gw, tok, (hg.MAGIC["slow"], "8"))))
        t.start()
        self.mock.wait_requests(1)
        gw.rewrite_config(hg.deep_merge(cfg, {"routes": [dict(cfg["routes"][0], scopes_any=[COMPANIES_WRITE])]}))
        gw.reload()
        polls = []  # the first ones may still meet the old policy: the worker takes the new one on its own time
        hg.wait_until(lambda: polls.append(post(gw, tok).status) or polls[-1] == 403, timeout=5, what="the new policy")
        self.assertEqual(set(polls[:-1]) - {200}, set(), polls)
        self.assertTrue(t.is_alive())
        t.join(10)
        self.assertEqual(box["r"].status, 200, box["r"])
        self.assertEqual(box["r"].headers["X-Hubgate-Route"], ROUTE)
        forwarded = 1 + polls.count(200)
        m = wait_metrics(gw, lambda m: m.requests("forwarded", 200) == forwarded, "the slow request in the metrics")
        self.assertEqual(m.requests("rejected_scope", 403), 1)
        self.assertEqual(reloads(m, "success"), 1)

    def test_idle_exits_at_once(self):
        """An idle keep-alive connection does not hold the drain."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig):
                gw = self.start(config(self.mock))
                client = hg.Client(gw.url)
                self.addCleanup(client.close)
                self.assertEqual(post(gw, token(), client=client).status, 200)
                t0 = time.monotonic()
                gw.send_signal(sig)
                gw.proc.wait(5)
                self.assertEqual(gw.proc.returncode, 0, gw.stderr())
                self.assertLess(time.monotonic() - t0, 2.0)


# ---------------------------------------------------------------------------
# workers


class TestWorkers(OpsCase):
    def test_two_workers_both_serve(self):
        gw = self.start(config(self.mock, workers=2))
        self.assertEqual(gw.admin("GET", "/config").json["workers"], 2)
        tok = token()
        before = scrape(gw)
        statuses = [post(gw, tok, (str(i + 1), "2")).status for i in range(60)]
        self.assertEqual(statuses, [200] * 60)
        after = wait_metrics(gw, lambda m: m.requests("forwarded", 200) - before.requests("forwarded", 200) >= 60,
                             "60 forwarded requests")
        self.assertEqual(after.requests("forwarded", 200) - before.requests("forwarded", 200), 60)
        # every worker has its own token cache: one miss per worker that saw the token
        # (all 60 connections on one worker: probability 2**-59)
        misses = after.get("hubgate_jwt_cache_misses_total") - before.get("hubgate_jwt_cache_misses_total")
        hits = after.get("hubgate_jwt_cache_hits_total") - before.get("hubgate_jwt_cache_hits_total")
        self.assertEqual((misses, hits), (2, 58))
        self.assertEqual(len(self.mock.requests()), 60)


if __name__ == "__main__":
    hg.main(requires=("mock", "hubgate", "crypto"))
