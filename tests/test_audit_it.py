"""test_audit_it.py: the audit trail end to end, through the real hubgate and the mock (CONTRACT.md 7, 8).

What an ops team sees of the trail, from outside only: the admin listener's GET /audit, the command
`hubgate audit`, the JSON Lines file, /metrics and the files on disk. Covered:
- one record per request, refused ones included, with every field right (decision, statuses, route,
  canonical path, principal, scope, object types, normalization counts, HubSpot's status, numErrors
  and correlation id, the SHA-256 of the bytes HubSpot received, client address, User-Agent, error,
  request id); `forwarded` whenever HubSpot answered (its 429, 207, 500 and 502 too), `upstream_error`
  only for the gateway's own 502/504, and HubSpot's outcome read from answers of any size;
- the query: object_id on both sides of a pair, newest first; every filter; limit and cursor paging
  that neither repeats nor skips while new requests arrive; bad parameters as 400 with in=query:NAME;
- `hubgate audit` with --db and -c, filters, --format table (aligned) and jsonl (= the API's records);
- the JSON Lines store: one line per record, the same objects;
- no record lost: a burst of concurrent requests cut by SIGTERM leaves one record per answer;
- a store that becomes unusable (its directory replaced by a file) under on_failure reject (503,
  nothing forwarded, nothing lost after recovery) and continue (forwarded, every loss counted);
- no client token, HMAC secret or upstream credential in the SQLite file, the JSON Lines file, the
  access log, stdout or stderr.
Waits are polls (records appear when the writer commits, a few ms after the answer), not sleeps.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hg  # noqa: E402

ROUTE = "create-default-associations"
CANONICAL_PATH = "/crm/v4/associations/0-1/0-2/batch/associate/default"
ISSUER = "https://idp.example.internal"
#: an upstream credential that cannot appear anywhere by chance
UPSTREAM_TOKEN = "pat-na1-5ec7e7-upstream-credential-0f1e2d3c4b5a"
#: every field of a record, in the contract's order, then the pairs
FIELDS = ["ts", "request_id", "route", "method", "path", "decision", "status", "upstream_status", "issuer", "subject",
          "client", "scope_used", "from_object_type", "to_object_type", "inputs_received", "inputs_forwarded",
          "duplicates", "coerced", "dropped_fields", "hubspot_status", "num_errors", "hubspot_correlation_id",
          "duration_ms", "upstream_ms", "body_sha256", "client_addr", "user_agent", "error", "pairs"]
#: a body that moves every normalization counter: 3 inputs, 1 duplicate, 2 coerced ids, 1 dropped field
MESSY_BODY = {"inputs": [{"from": {"id": 1}, "to": {"id": " 2 "}, "note": "x"}, {"from": {"id": "1"}, "to": {"id": "2"}},
                         {"from": {"id": "3"}, "to": {"id": "4"}}]}
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

_key = None


def key():
    """The HS256 key every gateway of this file trusts: its secret must never be written anywhere."""
    global _key
    if _key is None:
        _key = hg.new_key("HS256", "audit-it")
    return _key


def token(sub="alice", client="svc-a", scope="crm.objects.contacts.write", **extra):
    return hg.mint("HS256", key(), hg.claims(sub=sub, scope=scope, client_id=client, **extra))


def config(mock_url, **over):
    return hg.gateway_config(mock_url, [key()], upstream_token=UPSTREAM_TOKEN, **over)


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical(*pairs):
    """The compact body hubgate forwards for these (from, to) id strings."""
    return json.dumps(hg.inputs_body(*pairs), separators=(",", ":"))


def audit(gw, query="limit=1000"):
    """GET /audit?query on the admin listener: the answer's JSON (asserting 200)."""
    r = gw.admin("GET", "/audit?" + query)
    if r.status != 200:
        raise AssertionError("GET /audit?%s: %r" % (query, r))
    return r.json


def wait_records(gw, n, query="limit=1000"):
    """Polls GET /audit until it holds at least n records; returns them (newest first)."""
    return hg.wait_until(lambda: (lambda recs: recs if len(recs) >= n else None)(audit(gw, query)["records"]),
                         what="%d audit records" % n)


def metric(gw, name):
    text = gw.admin("GET", "/metrics").text
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    if m is None:
        raise AssertionError("no %s in /metrics" % name)
    return int(m.group(1))


def hubgate_audit(*args):
    """Runs `hubgate audit ARGS`; returns stdout (asserting exit 0)."""
    rc, out, err = hg.run_hubgate(["audit"] + list(args))
    if rc != 0:
        raise AssertionError("hubgate audit %s: exit %d: %s" % (" ".join(args), rc, err))
    return out


def post(gw, rid, pairs=None, body=None, tok=None, path=None, headers=None, **kw):
    """POST to the endpoint with X-Request-Id rid and User-Agent audit-it/rid; tok=None: token(), "": none."""
    h = {"X-Request-Id": rid, "User-Agent": "audit-it/" + rid}
    tok = token() if tok is None else tok
    if tok:
        h.update(hg.bearer(tok))
    h.update(headers or {})
    return gw.request("POST", path or hg.endpoint(), h, hg.inputs_body(*pairs) if body is None else body, **kw)


class Base(unittest.TestCase):
    def assertRecord(self, rec, **expected):
        """rec has exactly the contract's fields, in order, with these values."""
        self.assertEqual(list(rec), FIELDS)
        self.assertEqual({k: rec[k] for k in expected}, expected, rec["request_id"])
        self.assertRegex(rec["ts"], RFC3339_MS)
        self.assertIsInstance(rec["duration_ms"], (int, float))
        self.assertGreaterEqual(rec["duration_ms"], 0)
        if rec["upstream_ms"] is not None:
            self.assertLessEqual(rec["upstream_ms"], rec["duration_ms"] + 0.001)
        self.assertRegex(rec["client_addr"], r"^127\.0\.0\.1:\d+$")


# ---------------------------------------------------------------------------
# one record per request, every field


class TestRecords(Base):
    """One gateway (SQLite and JSON Lines, access log, debug log) and a fixed set of mixed requests."""

    @classmethod
    def setUpClass(cls):
        cls.mock = hg.Mock()
        try:
            cls.gw = hg.Gateway(config(cls.mock.url, audit={"sqlite": "$dir/audit.db", "jsonl": "$dir/audit.jsonl"},
                                       log={"level": "debug", "access": "$dir/access.log"}))
        except Exception:
            cls.mock.stop()
            raise
        cls.tokens = [token(), token(sub="bob", client="svc-b", scope="crm.objects.companies.write"),
                      token(sub="carol", client="svc-c", scope="crm.export")]
        gw, r = cls.gw, {}
        r["ok"] = post(gw, "it-ok", body=MESSY_BODY, path=hg.endpoint("contacts", "companies"))
        r["bob"] = post(gw, "it-bob", [("5", "6")], tok=cls.tokens[1], path=hg.endpoint("0-1", "companies"))
        r["noauth"] = post(gw, "it-noauth", [("1", "2")], tok="")
        r["scope"] = post(gw, "it-scope", [("1", "2")], tok=cls.tokens[2])
        r["body"] = post(gw, "it-body", body={"inputs": [{"to": {"id": "2"}}]})
        r["type"] = post(gw, "it-type", body=b'{"inputs":[]}', headers={"Content-Type": "text/plain"})
        r["noroute"] = gw.request("GET", "/crm/v3/objects", {"X-Request-Id": "it-noroute", "User-Agent": "audit-it/it-noroute"})
        r["429"] = post(gw, "it-429", [(hg.MAGIC["429"], "1")])
        r["207"] = post(gw, "it-207", [(hg.MAGIC["fail"] + "1", "7"), ("8", "9")])
        r["500"] = post(gw, "it-500", [(hg.MAGIC["500"], "1")])
        r["502"] = post(gw, "it-502", [(hg.MAGIC["502"], "1")])  # HubSpot's own 502, not the gateway's
        cls.responses = r
        cls.sent = {rec["headers"].get("x-request-id"): rec for rec in cls.mock.requests()}
        cls.records = {x["request_id"]: x for x in wait_records(gw, len(r))}

    @classmethod
    def tearDownClass(cls):
        rc = cls.gw.stop()
        cls.mock.stop()
        if rc != 0:
            raise AssertionError("hubgate exited %d: %s" % (rc, cls.gw.stderr()))

    def test_exactly_one_record_per_request(self):
        recs = audit(self.gw)["records"]
        self.assertEqual(sorted(x["request_id"] for x in recs), sorted("it-" + k for k in self.responses))
        self.assertEqual([r.headers["X-Request-Id"] for r in self.responses.values()], ["it-" + k for k in self.responses])
        # newest first: the order in which they were sent, reversed
        self.assertEqual([x["request_id"] for x in recs], ["it-" + k for k in reversed(list(self.responses))])

    def check_forwarded(self, name, status, pairs, **more):
        r, rec, sent = self.responses[name], self.records["it-" + name], self.sent["it-" + name]
        self.assertEqual(r.status, status, r)
        expected = dict(request_id="it-" + name, route=ROUTE, method="POST", path=CANONICAL_PATH, decision="forwarded",
                        status=status, upstream_status=status, issuer=ISSUER, subject="alice", client="svc-a",
                        scope_used="crm.objects.contacts.write", from_object_type="0-1", to_object_type="0-2",
                        inputs_received=len(pairs), inputs_forwarded=len(pairs), duplicates=0, coerced=0, dropped_fields=0,
                        hubspot_status=r.json["status"], num_errors=r.json.get("numErrors"),
                        hubspot_correlation_id=r.headers["X-HubSpot-Correlation-Id"], body_sha256=sha256(sent["body"]),
                        user_agent="audit-it/it-" + name, error=None, pairs=[{"from": a, "to": b} for a, b in pairs])
        expected.update(more)
        self.assertRecord(rec, **expected)
        self.assertEqual(sent["body"], canonical(*pairs))
        self.assertIsNotNone(rec["upstream_ms"])

    def test_forwarded_200_with_every_counter(self):
        self.check_forwarded("ok", 200, [("1", "2"), ("3", "4")], inputs_received=3, duplicates=1, coerced=2,
                             dropped_fields=1, hubspot_status="COMPLETE")

    def test_forwarded_other_principal(self):
        self.check_forwarded("bob", 200, [("5", "6")], subject="bob", client="svc-b",
                             scope_used="crm.objects.companies.write")

    def test_hubspot_429_is_forwarded(self):
        self.check_forwarded("429", 429, [(hg.MAGIC["429"], "1")], hubspot_status="error")

    def test_hubspot_207_counts_errors(self):
        self.check_forwarded("207", 207, [(hg.MAGIC["fail"] + "1", "7"), ("8", "9")], num_errors=1)
        self.assertEqual(self.responses["207"].json["numErrors"], 1)

    def test_hubspot_500_is_forwarded(self):
        self.check_forwarded("500", 500, [(hg.MAGIC["500"], "1")], hubspot_status="error")

    def test_hubspot_502_is_forwarded_not_an_upstream_error(self):
        self.check_forwarded("502", 502, [(hg.MAGIC["502"], "1")], hubspot_status="error")

    def test_hubspot_status_of_a_large_answer(self):
        """HubSpot's answer is scanned as it streams by (outcome.h), so a 1000-input batch (a 128 KB answer,
        status after the results) still records hubspot_status."""
        gw = hg.Gateway(config(self.mock.url))
        try:
            r = post(gw, "big", [(str(1000 + i), str(500000 + i)) for i in range(1000)])
            self.assertEqual((r.status, r.json["status"]), (200, "COMPLETE"))
            [rec] = wait_records(gw, 1)
            self.assertEqual(rec["inputs_forwarded"], 1000)
            self.assertEqual(rec["hubspot_correlation_id"], r.headers["X-HubSpot-Correlation-Id"])
            self.assertEqual(rec["hubspot_status"], "COMPLETE")
        finally:
            gw.stop()

    def check_refused(self, name, status, decision, error, **more):
        r, rec = self.responses[name], self.records["it-" + name]
        self.assertEqual(r.status, status, r)
        self.assertNotIn("it-" + name, self.sent)
        expected = dict(request_id="it-" + name, route=ROUTE, method="POST", path=CANONICAL_PATH, decision=decision,
                        status=status, upstream_status=None, issuer=ISSUER, subject="alice", client="svc-a",
                        scope_used="crm.objects.contacts.write", from_object_type="0-1", to_object_type="0-2",
                        inputs_received=None, inputs_forwarded=None, duplicates=None, coerced=None, dropped_fields=None,
                        hubspot_status=None, num_errors=None, hubspot_correlation_id=None, upstream_ms=None,
                        body_sha256=None, user_agent="audit-it/it-" + name, error=error, pairs=[])
        expected.update(more)
        self.assertRecord(rec, **expected)
        return rec

    def test_401_no_token(self):
        # the path's object types are resolved before the token is checked, so a 401 has them too
        self.check_refused("noauth", 401, "rejected_auth", "missing bearer token", issuer=None, subject=None, client=None,
                           scope_used=None)

    def test_403_wrong_scope(self):
        self.check_refused("scope", 403, "rejected_scope", "the token has none of the route's scopes", subject="carol",
                           client="svc-c", scope_used=None)

    def test_400_bad_body(self):
        r = self.responses["body"]
        self.assertEqual(r.json["errors"][0]["in"], "/inputs/0/from")
        self.check_refused("body", 400, "rejected_validation", r.json["errors"][0]["message"], inputs_received=1,
                           inputs_forwarded=0, duplicates=0, coerced=0, dropped_fields=0)

    def test_415(self):
        self.check_refused("type", 415, "rejected_validation", "Content-Type must be application/json")

    def test_404_no_route(self):
        self.check_refused("noroute", 404, "rejected_route", "no route for GET /crm/v3/objects", route=None, method="GET",
                           path="/crm/v3/objects", issuer=None, subject=None, client=None, scope_used=None,
                           from_object_type=None, to_object_type=None)

    def test_request_id_and_client_address(self):
        for name, r in self.responses.items():
            rec = self.records["it-" + name]
            self.assertEqual(rec["request_id"], r.headers["X-Request-Id"])
            if rec["decision"] != "forwarded":  # the gateway's own error: the request id is its correlationId
                self.assertEqual(r.json["correlationId"], rec["request_id"])

    # -- the query

    def filtered(self, query, keep):
        """GET /audit?query must give exactly the fixture's records that keep(), newest first."""
        got = [x["request_id"] for x in audit(self.gw, query)["records"] if x["request_id"].startswith("it-")]
        want = [x["request_id"] for x in self.fixture_newest_first() if keep(x)]
        self.assertEqual(got, want, query)
        return got

    def fixture_newest_first(self):
        return [self.records["it-" + k] for k in reversed(list(self.responses))]

    def test_filters(self):
        self.assertEqual(self.filtered("subject=alice", lambda x: x["subject"] == "alice")[-1], "it-ok")
        self.filtered("client=svc-b", lambda x: x["client"] == "svc-b")
        self.filtered("route=" + ROUTE, lambda x: x["route"] == ROUTE)
        self.filtered("decision=forwarded", lambda x: x["decision"] == "forwarded")
        self.filtered("decision=rejected_auth", lambda x: x["decision"] == "rejected_auth")
        self.filtered("status=4xx", lambda x: 400 <= x["status"] < 500)
        self.filtered("status=207", lambda x: x["status"] == 207)
        self.filtered("request_id=it-429", lambda x: x["request_id"] == "it-429")
        self.filtered("subject=alice&decision=forwarded&status=2xx",
                      lambda x: x["subject"] == "alice" and x["decision"] == "forwarded" and x["status"] < 300)
        middle = self.records["it-type"]["ts"]
        self.filtered("since=" + middle, lambda x: x["ts"] >= middle)
        self.filtered("until=" + middle, lambda x: x["ts"] < middle)
        self.filtered("since=2000-01-01&until=2000-01-02", lambda x: False)

    def test_bad_parameters(self):
        for query, name, code in [("limit=0", "limit", "invalid_parameter"), ("limit=1001", "limit", "invalid_parameter"),
                                  ("status=600", "status", "invalid_parameter"), ("decision=ok", "decision", "invalid_parameter"),
                                  ("since=yesterday", "since", "invalid_parameter"), ("cursor=abc", "cursor", "invalid_parameter"),
                                  ("limit=1&limit=2", "limit", "invalid_parameter"), ("subject=", "subject", "invalid_parameter"),
                                  ("objectid=1", "objectid", "unknown_parameter")]:
            with self.subTest(query=query):
                r = self.gw.admin("GET", "/audit?" + query)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.headers.get_all("Content-Type"), ["application/json;charset=utf-8"])
                self.assertEqual((r.json["status"], r.json["category"]), ("error", "VALIDATION_ERROR"))
                self.assertEqual([(e["in"], e["code"]) for e in r.json["errors"]], [("query:" + name, code)])
                self.assertIsInstance(r.json["correlationId"], str)

    # -- the CLI and the JSON Lines file

    def test_cli_jsonl_equals_the_api(self):
        db = os.path.join(self.gw.dir, "audit.db")
        for args, query in [([], "limit=100"), (["--decision", "forwarded", "--subject", "alice"],
                                                 "decision=forwarded&subject=alice"),
                            (["--status", "4xx", "--limit", "3"], "status=4xx&limit=3"),
                            (["--object-id", "7"], "object_id=7")]:
            with self.subTest(args=args):
                api = audit(self.gw, query)["records"]
                self.assertNotEqual(api, [])
                for source in (["--db", db], ["-c", self.gw.config_path]):
                    out = hubgate_audit(*(source + args + ["--format", "jsonl"]))
                    self.assertTrue(out.endswith("\n"))
                    self.assertEqual([json.loads(line) for line in out.splitlines()], api)

    def test_cli_table_is_aligned(self):
        out = hubgate_audit("-c", self.gw.config_path, "--route", ROUTE, "--format", "table")
        lines = out.splitlines()
        header = lines[0]
        names = ["TS", "REQUEST_ID", "DECISION", "STATUS", "ROUTE", "SUBJECT", "CLIENT", "INPUTS", "MS", "ERROR"]
        self.assertEqual(header.split(), names)
        starts = [header.index(n) for n in names]
        api = audit(self.gw, "route=" + ROUTE)["records"]
        self.assertEqual(len(lines), 1 + len(api))
        for line, rec in zip(lines[1:], api):
            cells = [line[a:b].rstrip() for a, b in zip(starts, starts[1:] + [None])]
            for a in starts[1:]:
                self.assertEqual(line[a - 2:a], "  ", line)  # every column starts where its header does
                self.assertNotEqual(line[a], " ", line)
            self.assertEqual(cells[:5], [rec["ts"], rec["request_id"], rec["decision"], str(rec["status"]), rec["route"]])
            self.assertEqual(cells[5], rec["subject"] or "-")

    def test_jsonl_file_has_the_same_records(self):
        path = os.path.join(self.gw.dir, "audit.jsonl")
        api = {x["request_id"]: x for x in audit(self.gw)["records"]}

        def lines():
            with open(path, encoding="utf-8") as fp:
                text = fp.read()
            return text if text.count("\n") >= len(api) else None

        text = hg.wait_until(lines, what="%d lines in audit.jsonl" % len(api))
        self.assertTrue(text.endswith("\n"))
        got = [json.loads(line) for line in text.splitlines()]
        self.assertEqual({x["request_id"]: x for x in got}, api)
        self.assertEqual(len(got), len(api))
        self.assertEqual([list(x) for x in got], [FIELDS] * len(got))

    # -- secrets

    def test_no_secret_is_written_anywhere(self):
        hg.wait_until(lambda: os.path.exists(os.path.join(self.gw.dir, "access.log")), what="the access log")
        secret = key().secret
        needles = [UPSTREAM_TOKEN.encode(), secret, secret.hex().encode(), hg.b64url(secret).encode(),
                   base64.b64encode(secret)]
        for tok in self.tokens:
            needles += [tok.encode(), tok.split(".")[2].encode()]
        files = [os.path.join(self.gw.dir, n) for n in os.listdir(self.gw.dir)
                 if n.startswith("audit.") or n in ("access.log", "stdout.log", "stderr.log")]
        self.assertTrue(any(f.endswith("audit.db") for f in files))
        self.assertGreater(len(self.gw.stderr()), 0)  # debug logging wrote something to search
        everything = b""
        for path in files:
            with open(path, "rb") as fp:
                data = fp.read()
            everything += data
            for n in needles:
                self.assertNotIn(n, data, "%s holds a secret" % os.path.basename(path))
        # the search looks where the records are: the bytes of every store and log hold what was written
        for name in ("audit.db", "audit.jsonl", "access.log"):
            data = b"".join(open(p, "rb").read() for p in files if os.path.basename(p).startswith(name))
            self.assertIn(b"it-bob", data, name)
        self.assertIn(b"audit-it/it-bob", everything)


# ---------------------------------------------------------------------------
# the gateway's own upstream errors


class TestUpstreamErrors(Base):
    def test_502_and_504_are_upstream_errors(self):
        down = hg.Gateway(config("http://127.0.0.1:%d" % hg.free_port()))
        slow_mock = hg.Mock(slow_ms=1500)
        slow = hg.Gateway(config(slow_mock.url, upstream={"io_timeout_ms": 300}))
        try:
            r = post(down, "up-502", [("1", "2")])
            self.assertEqual(r.status, 502, r)
            r = post(slow, "up-504", [(hg.MAGIC["slow"], "2")])
            self.assertEqual(r.status, 504, r)
            for gw, rid, status, pairs, error in [(down, "up-502", 502, [("1", "2")], "upstream connection failed"),
                                                  (slow, "up-504", 504, [(hg.MAGIC["slow"], "2")], "upstream timed out")]:
                [rec] = wait_records(gw, 1)
                self.assertRecord(rec, request_id=rid, route=ROUTE, path=CANONICAL_PATH, decision="upstream_error",
                                  status=status, upstream_status=None, subject="alice", inputs_forwarded=len(pairs),
                                  hubspot_status=None, num_errors=None, hubspot_correlation_id=None,
                                  body_sha256=sha256(canonical(*pairs)), error=error,
                                  pairs=[{"from": a, "to": b} for a, b in pairs])
            self.assertEqual(len(slow_mock.requests()), 1)
        finally:
            self.assertEqual(down.stop(), 0)
            self.assertEqual(slow.stop(), 0)
            slow_mock.stop()


# ---------------------------------------------------------------------------
# paging while records are being written


class TestQueriesWhileWriting(Base):
    def test_object_id_on_both_sides_newest_first(self):
        mock = hg.Mock()
        gw = hg.Gateway(config(mock.url))
        try:
            self.check_object_id(gw)
        finally:
            self.assertEqual(gw.stop(), 0)
            mock.stop()

    def check_object_id(self, gw):
        post(gw, "obj-1", [("424242", "1")])
        post(gw, "obj-2", [("9", "424242"), ("424242", "10")])
        post(gw, "obj-3", [("11", "12")])
        post(gw, "obj-4", [("424242", "1")], tok="")  # refused: not forwarded, no pairs
        wait_records(gw, 4)
        self.assertEqual([x["request_id"] for x in audit(gw, "object_id=424242")["records"]], ["obj-2", "obj-1"])
        self.assertEqual([x["request_id"] for x in audit(gw, "object_id=4242")["records"]], [])
        self.assertEqual([x["request_id"] for x in audit(gw, "object_id=12&decision=forwarded")["records"]], ["obj-3"])

    def test_cursor_neither_repeats_nor_skips(self):
        mock = hg.Mock()
        gw = hg.Gateway(config(mock.url))
        try:
            for i in range(25):
                post(gw, "page-%02d" % i, [(str(100 + i), "1")])
            before = [x["request_id"] for x in wait_records(gw, 25)]
            self.assertEqual(before, ["page-%02d" % i for i in reversed(range(25))])
            seen, cursor, pages = [], None, 0
            while True:
                answer = audit(gw, "limit=4" + ("&cursor=" + cursor if cursor else ""))
                self.assertLessEqual(len(answer["records"]), 4)
                seen += [x["request_id"] for x in answer["records"]]
                pages += 1
                post(gw, "late-%02d" % pages, [("1", "2")])  # newer than the first page: never in these pages
                cursor = answer["next_cursor"]
                if cursor is None:
                    break
                self.assertIsInstance(cursor, str)
            self.assertEqual(seen, before)
            self.assertEqual(pages, 7)
            # a cursor from the first walk still pages the same way with a filter
            first = audit(gw, "limit=10&subject=alice")
            second = audit(gw, "limit=10&subject=alice&cursor=" + first["next_cursor"])
            ids = [x["request_id"] for x in first["records"] + second["records"]]
            self.assertEqual(len(set(ids)), 20)
            self.assertEqual(ids, sorted(ids, key=lambda i: [x["request_id"] for x in audit(gw)["records"]].index(i)))
        finally:
            self.assertEqual(gw.stop(), 0)
            mock.stop()


# ---------------------------------------------------------------------------
# no record lost on SIGTERM


class TestBurstThenSigterm(Base):
    def test_every_answered_request_has_a_record(self):
        mock = hg.Mock(slow_ms=300)
        gw = hg.Gateway(config(mock.url, workers=2, shutdown_timeout_ms=5000))
        tok = token()
        answered, failed, lock = {}, [], threading.Lock()
        half = threading.Event()

        def worker(t):
            for i in range(10):
                rid = "burst-%02d-%d" % (t, i)
                frm = hg.MAGIC["slow"] if i % 4 == 1 else str(1000 + t * 10 + i)
                try:
                    r = post(gw, rid, [(frm, str(i + 1))], tok=tok, timeout=10)
                except OSError as e:  # refused once the listener is closed
                    with lock:
                        failed.append((rid, repr(e)))
                    continue
                with lock:
                    answered[rid] = r.status
                    if len(answered) >= 100:
                        half.set()

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(20)]
        try:
            for t in threads:
                t.start()
            self.assertTrue(half.wait(30), "100 answers")
            stats = mock.stats()
            gw.send_signal(signal.SIGTERM)
            for t in threads:
                t.join(30)
            self.assertEqual(gw.proc.wait(15), 0, gw.stderr())
            self.assertEqual(len(answered) + len(failed), 200)
            self.assertGreater(len(failed), 0, "SIGTERM came after the last request")
            self.assertGreater(stats["received"] - stats["answered"], 0, "SIGTERM came with nothing in flight")
            out = hubgate_audit("--db", os.path.join(gw.dir, "audit.db"), "--limit", "1000", "--format", "jsonl")
            records = [json.loads(line) for line in out.splitlines()]
            self.assertEqual(sorted(x["request_id"] for x in records), sorted(answered))
            self.assertEqual({x["request_id"]: x["status"] for x in records}, answered)
        finally:
            gw.stop(signal.SIGKILL)
            mock.stop()


# ---------------------------------------------------------------------------
# a store that stops working


class StoreFailureCase(Base):
    """The SQLite store lives in $dir/sub; breaking it replaces that directory by a file, which no open
    or reopen can get past (also as root); repairing makes the directory again (an empty store)."""

    on_failure = None

    def setUp(self):
        self.mock = hg.Mock()
        self.gw = hg.Gateway(config(self.mock.url, audit={"sqlite": "$dir/sub/audit.db", "on_failure": self.on_failure}),
                             start=False)
        self.sub = os.path.join(self.gw.dir, "sub")
        os.mkdir(self.sub)
        self.gw.start()

    def tearDown(self):
        rc = self.gw.stop()
        self.mock.stop()
        self.assertEqual(rc, 0, self.gw.stderr())

    def break_store(self):
        shutil.rmtree(self.sub)
        hg.write_file(self.sub, "not a directory\n")

    def repair_store(self):
        os.remove(self.sub)
        os.mkdir(self.sub)


class TestStoreFailureReject(StoreFailureCase):
    on_failure = "reject"

    def test_503_nothing_forwarded_nothing_lost(self):
        gw = self.gw
        self.assertEqual(post(gw, "before", [("1", "2")]).status, 200)
        wait_records(gw, 1)
        self.break_store()
        sent = []

        def refused():
            rid = "broken-%d" % len(sent)
            sent.append(rid)
            return post(gw, rid, [("1", "2")]).status == 503

        hg.wait_until(refused, what="a 503 once the writer finds the store broken")
        forwarded = len(self.mock.requests())
        r = post(gw, "refused", [("1", "2")])
        sent.append("refused")
        self.assertEqual(r.status, 503, r)
        self.assertEqual((r.json["category"], r.json["message"]), ("GATEWAY_ERROR", "the audit store cannot record this request"))
        self.assertEqual(r.json["correlationId"], "refused")
        self.assertEqual(len(self.mock.requests()), forwarded)  # nothing reached HubSpot
        self.assertEqual(gw.admin("GET", "/readyz").status, 503)
        self.assertEqual(metric(gw, "hubgate_audit_dropped_total"), 0)
        self.repair_store()

        def accepted():
            rid = "repaired-%d" % len(sent)
            sent.append(rid)
            return post(gw, rid, [("1", "2")]).status == 200

        hg.wait_until(accepted, what="a 200 after the store came back")
        recs = wait_records(gw, len(sent))
        self.assertEqual(sorted(x["request_id"] for x in recs), sorted(sent))
        self.assertEqual(metric(gw, "hubgate_audit_dropped_total"), 0)
        self.assertEqual(gw.admin("GET", "/readyz").status, 200)
        by_id = {x["request_id"]: x for x in recs}
        self.assertRecord(by_id["refused"], decision="rejected_other", status=503, upstream_status=None,
                          error="the audit store cannot record this request", pairs=[])
        self.assertEqual(by_id["broken-0"]["status"], 200)  # taken before the writer saw the store broken


class TestStoreFailureContinue(StoreFailureCase):
    on_failure = "continue"

    def test_forwarded_and_every_loss_counted(self):
        gw = self.gw
        self.assertEqual(post(gw, "before", [("1", "2")]).status, 200)
        wait_records(gw, 1)
        self.assertEqual(metric(gw, "hubgate_audit_dropped_total"), 0)
        self.break_store()
        for i in range(5):
            self.assertEqual(post(gw, "broken-%d" % i, [("1", "2")]).status, 200)
        self.assertEqual(len(self.mock.requests()), 6)
        hg.wait_until(lambda: metric(gw, "hubgate_audit_dropped_total") == 5, what="5 records counted as dropped")
        self.repair_store()
        sent = []

        def stored():
            rid = "repaired-%d" % len(sent)
            sent.append(rid)
            self.assertEqual(post(gw, rid, [("1", "2")]).status, 200)
            r = gw.admin("GET", "/audit")
            return r.status == 200 and r.json["records"]

        hg.wait_until(stored, what="records in the repaired store")
        hg.wait_until(lambda: metric(gw, "hubgate_audit_written_total") + metric(gw, "hubgate_audit_dropped_total") == 6 + len(sent),
                      what="every record written or counted")
        recs = [x["request_id"] for x in audit(gw)["records"]]
        dropped = metric(gw, "hubgate_audit_dropped_total")
        self.assertEqual(len(recs) + dropped - 5, len(sent))
        self.assertEqual(recs, [rid for rid in reversed(sent)][:len(recs)])  # the newest ones, none missing in between


if __name__ == "__main__":
    hg.main(requires=("mock", "hubgate", "crypto"))
