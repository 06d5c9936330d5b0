"""test_mock.py: proves tests/mock_hubspot and the harness tests/hg.py before the gateway exists.

Every magic id of the mock (status, headers, body shape), the recording of requests, TLS with
the test CA (chain, host name, 1.3 only, 1.2 only, session resumption), clean exit on SIGTERM,
and the harness's own helpers (Headers, curl parsing, YAML writer, JOSE signing).
"""

import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hg  # noqa: E402

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
AUTH = {"Authorization": "Bearer upstream-token", "Content-Type": "application/json"}
RATE_HEADERS = {
    "X-HubSpot-RateLimit-Daily": "500000",
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    "X-HubSpot-RateLimit-Max": "190",
    "X-HubSpot-RateLimit-Secondly": "19",
}


def result(from_id, to_id, type_id=279):
    return {"associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
            "from": {"id": from_id}, "to": {"id": to_id}}


class MockCase(unittest.TestCase):
    mock_args = {}

    @classmethod
    def setUpClass(cls):
        cls.mock = hg.Mock(**cls.mock_args)

    @classmethod
    def tearDownClass(cls):
        rc = cls.mock.stop()
        if rc != 0:
            raise AssertionError("mock exited %d: %s" % (rc, cls.mock.stderr()))

    def setUp(self):
        self.mock.clear()

    def post(self, *pairs, path=None, headers=None, body=None):
        return hg.request("POST", self.mock.url + (path or hg.endpoint()), AUTH if headers is None else headers,
                          hg.inputs_body(*pairs) if body is None else body)

    def assertHubSpotHeaders(self, r, limited=False):
        self.assertEqual(r.headers["Content-Type"], "application/json;charset=utf-8")
        self.assertRegex(r.headers["X-HubSpot-Correlation-Id"], UUID4)
        for k, v in RATE_HEADERS.items():
            self.assertEqual(r.headers.get_all(k), [v], k)
        self.assertEqual(r.headers["X-HubSpot-RateLimit-Remaining"], "0" if limited else "189")
        self.assertEqual(r.headers["X-HubSpot-RateLimit-Secondly-Remaining"], "0" if limited else "18")
        self.assertRegex(r.headers["X-HubSpot-RateLimit-Daily-Remaining"], r"^\d+$")
        self.assertEqual(r.headers["Content-Length"], str(len(r.body)))

    def assertErrorBody(self, r, status, category, message=None):
        self.assertEqual(r.status, status, r)
        self.assertHubSpotHeaders(r)
        self.assertEqual(r.json["status"], "error")
        self.assertEqual(r.json["correlationId"], r.headers["X-HubSpot-Correlation-Id"])
        self.assertEqual(r.json.get("category"), category)
        if message is not None:
            self.assertEqual(r.json["message"], message)


class TestAssociate(MockCase):
    def test_ordinary_inputs_complete(self):
        r = self.post(("1", "2"), ("3", "4"))
        self.assertEqual(r.status, 200, r)
        self.assertHubSpotHeaders(r)
        self.assertEqual(list(r.json), ["status", "results", "startedAt", "completedAt"])
        self.assertEqual(r.json["status"], "COMPLETE")
        self.assertEqual(r.json["results"], [result("1", "2"), result("3", "4")])
        self.assertRegex(r.json["startedAt"], ISO_MS)
        self.assertRegex(r.json["completedAt"], ISO_MS)
        self.assertEqual(r.headers.get("Retry-After"), None)

    def test_association_type_of_default_pairs(self):
        for f, t, type_id in (("0-2", "0-1", 280), ("0-3", "0-1", 3), ("0-1", "0-3", 4), ("0-3", "0-2", 341),
                              ("0-5", "0-1", 16), ("2-123", "0-1", 279), ("contacts", "COMPANY", 279)):
            r = self.post(("1", "2"), path=hg.endpoint(f, t))
            self.assertEqual((r.status, r.json["results"]), (200, [result("1", "2", type_id)]), (f, t))

    def test_empty_inputs(self):
        r = self.post()
        self.assertEqual((r.status, r.json["status"], r.json["results"]), (200, "COMPLETE", []))

    def test_correlation_ids_differ(self):
        a, b = self.post(("1", "2")), self.post(("1", "2"))
        self.assertNotEqual(a.headers["X-HubSpot-Correlation-Id"], b.headers["X-HubSpot-Correlation-Id"])
        self.assertGreater(int(a.headers["X-HubSpot-RateLimit-Daily-Remaining"]),
                           int(b.headers["X-HubSpot-RateLimit-Daily-Remaining"]))

    def test_207_prefix_fails_per_input(self):
        r = self.post(("1", "2"), ("992071", "5"), (hg.MAGIC["fail"] + "9", "6"))
        self.assertEqual(r.status, 207, r)
        self.assertHubSpotHeaders(r)
        self.assertEqual(r.json["status"], "COMPLETE")
        self.assertEqual(r.json["results"], [result("1", "2")])
        self.assertEqual(r.json["numErrors"], 2)
        e = r.json["errors"][0]
        self.assertEqual(e, {"status": "error", "category": "VALIDATION_ERROR",
                             "subCategory": "crm.associations.INVALID_OBJECT_IDS",
                             "message": "No 0-1 object found with id 992071",
                             "context": {"fromObjectId": ["992071"], "toObjectId": ["5"]}})
        self.assertEqual(r.json["errors"][1]["context"]["fromObjectId"], ["992079"])

    def test_non_digit_ids_fail_per_input(self):
        r = self.post(("1", "2"), (" 3", "4"), ("5", "x6"))
        self.assertEqual((r.status, r.json["numErrors"]), (207, 2))
        self.assertEqual([e["context"]["fromObjectId"] for e in r.json["errors"]], [[" 3"], ["5"]])
        self.assertEqual(r.json["errors"][1]["context"]["toObjectId"], ["x6"])

    def test_204_prefix_leaves_input_out_of_results(self):
        r = self.post(("1", "2"), ("992041", "3"), ("4", "5"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["results"], [result("1", "2"), result("4", "5")])
        self.assertNotIn("errors", r.json)
        self.assertNotIn("numErrors", r.json)

    def test_202_pending(self):
        r = self.post(("1", "2"), (hg.MAGIC["pending"], "3"))
        self.assertEqual((r.status, r.json["status"]), (202, "PENDING"))
        self.assertEqual(len(r.json["results"]), 2)

    def test_429_policies(self):
        for magic, policy, message in (("429", "SECONDLY", "You have reached your secondly limit."),
                                       ("429-daily", "DAILY", "You have reached your daily limit."),
                                       ("429-ten-secondly", "TEN_SECONDLY_ROLLING",
                                        "You have reached your ten_secondly_rolling limit.")):
            r = self.post(("1", "2"), (hg.MAGIC[magic], "3"))
            self.assertEqual(r.status, 429, r)
            self.assertHubSpotHeaders(r, limited=True)
            self.assertEqual(r.headers.get_all("Retry-After"), ["1"])
            if policy == "DAILY":
                self.assertEqual(r.headers["X-HubSpot-RateLimit-Daily-Remaining"], "0")
            self.assertEqual(list(r.json), ["status", "message", "errorType", "correlationId", "policyName", "groupName"])
            self.assertEqual((r.json["status"], r.json["message"], r.json["errorType"], r.json["policyName"]),
                             ("error", message, "RATE_LIMIT", policy))
            self.assertEqual(r.json["correlationId"], r.headers["X-HubSpot-Correlation-Id"])
            self.assertTrue(r.json["groupName"].startswith("publicapi:"))

    def test_first_status_magic_wins(self):
        r = self.post((hg.MAGIC["503"], "1"), (hg.MAGIC["429"], "2"))
        self.assertEqual(r.status, 503)

    def test_error_statuses(self):
        for status in (400, 404, 500, 502, 503, 504):
            r = self.post(("1", "2"), (hg.MAGIC[str(status)], "3"))
            category = {400: "VALIDATION_ERROR", 404: "OBJECT_NOT_FOUND"}.get(status)
            self.assertErrorBody(r, status, category)
            self.assertNotIn("Retry-After", r.headers)
        r = self.post(("99409", "1"))
        self.assertErrorBody(r, 409, "VALIDATION_ERROR", "Conflict")

    def test_401_and_403_bodies(self):
        r = self.post((hg.MAGIC["401"], "1"))
        self.assertErrorBody(r, 401, "INVALID_AUTHENTICATION")
        self.assertTrue(r.json["message"].startswith("Authentication credentials not found."))
        r = self.post((hg.MAGIC["403"], "1"))
        self.assertErrorBody(r, 403, "MISSING_SCOPES")
        self.assertEqual(r.json["errors"][0]["context"], {"requiredGranularScopes": ["crm.objects.contacts.write"]})

    def test_ordinary_99_lookalikes(self):
        r = self.post(("9942", "1"), ("994290", "2"), ("199429", "3"))
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.json["results"]), 3)

    def test_body_errors(self):
        r = self.post(body=b'{"inputs":[')
        self.assertErrorBody(r, 400, "VALIDATION_ERROR")
        self.assertTrue(r.json["message"].startswith("Invalid input JSON on line 1"), r.json["message"])
        r = self.post(body={"input": []})
        self.assertErrorBody(r, 400, "VALIDATION_ERROR", "Invalid input JSON: inputs is required and must be an array")
        r = self.post(body={"inputs": [{"to": {"id": "1"}}]})
        self.assertErrorBody(r, 400, "VALIDATION_ERROR",
                             "Invalid input JSON: inputs[0].from.id is required and must be a string")
        r = self.post(body={"inputs": [{"from": {"id": "1"}, "to": {"id": 2}}]})
        self.assertErrorBody(r, 400, "VALIDATION_ERROR", "Invalid input JSON: inputs[0].to.id is required and must be a string")
        r = self.post(("1", "2"), headers={"Authorization": "Bearer t", "Content-Type": "text/plain"})
        self.assertErrorBody(r, 415, "VALIDATION_ERROR", "Unsupported Media Type")
        r = self.post(("1", "2"), headers={"Authorization": "Bearer t", "Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 200)

    def test_unknown_object_type(self):
        r = self.post(("1", "2"), path=hg.endpoint("0-1", "widgets"))
        self.assertErrorBody(r, 400, "VALIDATION_ERROR", "Unable to infer object type from: widgets")

    def test_no_bearer_is_401(self):
        for headers in ({"Content-Type": "application/json"}, {"Authorization": "Basic dTpw", "Content-Type": "application/json"},
                        {"Authorization": "Bearer ", "Content-Type": "application/json"}):
            r = self.post(("1", "2"), headers=headers)
            self.assertErrorBody(r, 401, "INVALID_AUTHENTICATION")
        r = hg.request("GET", self.mock.url + "/crm/v3/objects/contacts")
        self.assertEqual(r.status, 401)

    def test_other_paths_are_404_and_recorded(self):
        r = hg.request("GET", self.mock.url + "/crm/v3/objects/contacts?limit=1", {"Authorization": "Bearer t"})
        self.assertErrorBody(r, 404, "OBJECT_NOT_FOUND", "resource not found")
        r = hg.request("GET", self.mock.url + hg.endpoint(), {"Authorization": "Bearer t"})
        self.assertEqual(r.status, 404)
        r = self.post(("1", "2"), path="/crm/v4/associations/0-1/batch/associate/default")
        self.assertEqual(r.status, 404)
        paths = [(q["method"], q["path"]) for q in self.mock.requests()]
        self.assertEqual(paths, [("GET", "/crm/v3/objects/contacts?limit=1"), ("GET", hg.endpoint()),
                                 ("POST", "/crm/v4/associations/0-1/batch/associate/default")])


class TestSlowAndHang(MockCase):
    mock_args = {"slow_ms": 400}

    def test_slow_answers_late_without_blocking_the_loop(self):
        box = {}

        def slow():
            t0 = time.monotonic()
            box["r"] = self.post((hg.MAGIC["slow"], "1"), ("2", "3"))
            box["dt"] = time.monotonic() - t0

        th = threading.Thread(target=slow)
        th.start()
        self.mock.wait_requests(1)
        t0 = time.monotonic()
        r = self.post(("1", "2"))
        fast = time.monotonic() - t0
        th.join()
        self.assertEqual(r.status, 200)
        self.assertLess(fast, 0.3)
        self.assertGreaterEqual(box["dt"], 0.4)
        self.assertEqual(box["r"].status, 200)
        self.assertHubSpotHeaders(box["r"])
        self.assertEqual(box["r"].json["results"], [result(hg.MAGIC["slow"], "1"), result("2", "3")])

    def test_slow_combines_with_status(self):
        t0 = time.monotonic()
        r = self.post((hg.MAGIC["slow"], "1"), (hg.MAGIC["429"], "2"))
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        self.assertEqual(r.status, 429)
        self.assertEqual(r.headers["Retry-After"], "1")

    def test_abandoned_slow_request_is_harmless(self):
        s = socket.create_connection(("127.0.0.1", self.mock.port))
        body = json.dumps(hg.inputs_body((hg.MAGIC["slow"], "1"))).encode()
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (hg.endpoint().encode(), len(body), body))
        self.mock.wait_requests(1)
        s.close()
        time.sleep(0.5)  # let the timer fire on the closed connection (the point of this test)
        self.assertEqual(self.post(("1", "2")).status, 200)

    def test_hang_never_answers(self):
        with self.assertRaises(socket.timeout):
            hg.request("POST", self.mock.url + hg.endpoint(), AUTH, hg.inputs_body((hg.MAGIC["hang"], "1")), timeout=0.5)
        self.assertEqual(self.post(("1", "2")).status, 200)


class TestRecording(MockCase):
    def test_record_fields(self):
        body = b'{"inputs":[{"from":{"id":"1"},"to":{"id":"2"}}],"x":"\xc3\xa9\xff\\n"}'
        headers = [("Authorization", "Bearer abc"), ("Content-Type", "application/json"), ("X-Request-Id", "r-1"),
                   ("X-Dup", "a"), ("X-Dup", "b")]
        r = hg.request("POST", self.mock.url + hg.endpoint() + "?hapikey=no&a=%2F", headers, body)
        self.assertEqual(r.status, 400)  # not UTF-8, so not JSON; recorded all the same
        [rec] = self.mock.requests()
        self.assertEqual(rec["method"], "POST")
        self.assertEqual(rec["path"], hg.endpoint() + "?hapikey=no&a=%2F")
        self.assertEqual(rec["scheme"], "http")
        self.assertIsNone(rec["tls"])
        self.assertEqual(rec["listener"], "127.0.0.1:%d" % self.mock.port)
        self.assertRegex(rec["peer"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(rec["http_version"], "1.1")
        self.assertEqual(rec["headers"]["host"], "127.0.0.1:%d" % self.mock.port)
        self.assertEqual(rec["header_pairs"][0][0], "host")
        self.assertEqual(rec["headers"]["authorization"], "Bearer abc")
        self.assertEqual(rec["headers"]["x-request-id"], "r-1")
        self.assertEqual(rec["headers"].get_all("x-dup"), ["a", "b"])
        self.assertNotIn("content-length", rec["headers"])
        self.assertEqual(rec["body_length"], len(body))
        self.assertEqual(rec["body"], '{"inputs":[{"from":{"id":"1"},"to":{"id":"2"}}],"x":"\u00e9\u00ff\\n"}')
        self.assertIsInstance(rec["seq"], int)
        self.assertLess(abs(rec["time_ms"] / 1000 - time.time()), 60)

    def test_seq_conn_and_keepalive(self):
        with hg.Client(self.mock.url) as c:
            for i in range(3):
                self.assertEqual(c.request("POST", hg.endpoint(), AUTH, hg.inputs_body((str(i + 1), "9"))).status, 200)
            self.assertEqual(c.request("GET", "/nope", {"Authorization": "Bearer t"}).status, 404)
        recs = self.mock.requests()
        self.assertEqual(len(recs), 4)
        self.assertEqual(len({q["conn"] for q in recs}), 1)
        seqs = [q["seq"] for q in recs]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), 4)
        self.assertEqual([json.loads(q["body"])["inputs"][0]["from"]["id"] for q in recs[:3]], ["1", "2", "3"])

    def test_mock_endpoints_are_not_recorded_and_clear_counts(self):
        self.post(("1", "2"))
        self.post(("1", "2"))
        hg.request("GET", self.mock.url + "/__mock/health")
        hg.request("GET", self.mock.url + "/__mock/stats")
        self.assertEqual(len(self.mock.requests()), 2)
        self.assertEqual(self.mock.clear(), 2)
        self.assertEqual(self.mock.requests(), [])
        r = hg.request("GET", self.mock.url + "/__mock/other")
        self.assertEqual(r.status, 404)

    def test_stats(self):
        before = self.mock.stats()
        self.post(("1", "2"))
        after = self.mock.stats()
        self.assertEqual(after["received"], before["received"] + 1)
        self.assertEqual(after["answered"], before["answered"] + 1)
        self.assertEqual(after["recorded"], 1)

    def test_curl_http1_and_h2c(self):
        r = hg.curl_request("POST", self.mock.url + hg.endpoint(), AUTH, hg.inputs_body(("1", "2")), http2=False)
        self.assertEqual((r.status, r.http_version), (200, "1.1"))
        self.assertEqual(r.json["results"], [result("1", "2")])
        self.assertEqual(r.headers["content-type"], "application/json;charset=utf-8")
        r = hg.curl_request("POST", self.mock.url + hg.endpoint(), AUTH, hg.inputs_body(("1", "2")), http2=True)
        self.assertEqual((r.status, r.http_version), (200, "2"))
        self.assertRegex(r.headers["x-hubspot-correlation-id"], UUID4)
        self.assertEqual([q["http_version"] for q in self.mock.requests()], ["1.1", "2.0"])


class TestRecordLimit(MockCase):
    mock_args = {"record_limit": 2}

    def test_keeps_newest(self):
        for i in range(5):
            self.post((str(i + 1), "9"))
        recs = self.mock.requests()
        self.assertEqual([json.loads(q["body"])["inputs"][0]["from"]["id"] for q in recs], ["4", "5"])
        self.assertEqual(self.mock.stats()["dropped"], 3)


class TestExpectToken(MockCase):
    mock_args = {"expect_token": "s3cret"}

    def test_exact_token_only(self):
        for value, status in (("Bearer s3cret", 200), ("Bearer other", 401), ("bearer s3cret", 401), ("Bearer s3cret ", 401),
                              ("Bearer s3cre", 401)):
            r = self.post(("1", "2"), headers={"Authorization": value, "Content-Type": "application/json"})
            self.assertEqual(r.status, status, value)


class TestThreads(MockCase):
    mock_args = {"threads": 3}

    def test_concurrent_requests_all_recorded(self):
        errors = []

        def worker(n):
            with hg.Client(self.mock.url) as c:
                for i in range(50):
                    r = c.request("POST", hg.endpoint(), AUTH, hg.inputs_body((str(n * 1000 + i), "1")))
                    if r.status != 200:
                        errors.append(r)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        recs = self.mock.requests()
        self.assertEqual(len(recs), 400)
        self.assertEqual(len({q["seq"] for q in recs}), 400)


class TestTLS(MockCase):
    mock_args = {"tls": True, "slow_ms": 100}

    def test_https_with_test_ca(self):
        self.assertTrue(self.mock.url.startswith("https://"))
        r = self.post(("1", "2"))
        self.assertEqual(r.status, 200)
        self.assertHubSpotHeaders(r)
        [rec] = self.mock.requests()
        self.assertEqual(rec["scheme"], "https")
        self.assertEqual(rec["listener"], "127.0.0.1:%d" % self.mock.port)
        self.assertEqual(rec["tls"]["version"], "TLSv1.3")
        self.assertIs(rec["tls"]["session_reused"], False)
        self.assertTrue(rec["tls"]["cipher"])

    def test_localhost_name_matches(self):
        r = hg.request("POST", "https://localhost:%d%s" % (self.mock.port, hg.endpoint()), AUTH, hg.inputs_body(("1", "2")))
        self.assertEqual(r.status, 200)

    def test_tls12_negotiated(self):
        r = hg.request("POST", self.mock.url + hg.endpoint(), AUTH, hg.inputs_body(("1", "2")),
                       context=hg.ssl_context(tls_max=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(r.status, 200)
        self.assertEqual(self.mock.requests()[0]["tls"]["version"], "TLSv1.2")

    def test_other_ca_is_refused(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            hg.request("GET", self.mock.url + "/__mock/health", cafile=hg.pki().other_ca)

    def test_control_listener_is_cleartext(self):
        r = hg.request("GET", self.mock.control_url + "/__mock/health")
        self.assertEqual((r.status, r.json), (200, {"status": "ok"}))
        self.assertNotEqual(self.mock.control_port, self.mock.port)

    def test_session_resumption(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            self.mock.clear()
            ctx = hg.ssl_context(tls_max=version)
            session = None
            for _ in range(2):
                raw = socket.create_connection(("127.0.0.1", self.mock.port))
                s = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
                s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.assertTrue(data.startswith(b"HTTP/1.1 404"), data[:40])
                session = s.session
                s.close()
            recs = self.mock.requests()
            self.assertEqual([q["tls"]["session_reused"] for q in recs], [False, True], version)

    def test_curl_h2_over_tls_falls_back_to_http1(self):
        r = hg.curl_request("POST", self.mock.url + hg.endpoint(), AUTH, hg.inputs_body(("1", "2")))
        self.assertEqual((r.status, r.http_version), (200, "1.1"))


class TestTLS13Only(MockCase):
    mock_args = {"tls": True, "tls13_only": True}

    def test_tls12_client_refused(self):
        with self.assertRaises(ssl.SSLError):
            hg.request("GET", self.mock.url + "/__mock/health", context=hg.ssl_context(tls_max=ssl.TLSVersion.TLSv1_2))
        r = self.post(("1", "2"))
        self.assertEqual(r.status, 200)
        self.assertEqual(self.mock.requests()[0]["tls"]["version"], "TLSv1.3")


class TestTLS12Only(MockCase):
    mock_args = {"tls": True, "tls12_only": True}

    def test_tls12_negotiated(self):
        self.assertEqual(self.post(("1", "2")).status, 200)
        self.assertEqual(self.mock.requests()[0]["tls"]["version"], "TLSv1.2")


class TestWrongHostCert(MockCase):
    @classmethod
    def setUpClass(cls):
        p = hg.pki()
        cls.mock = hg.Mock(tls=True, cert=p.wrong_host, key=p.wrong_host_key)

    def test_host_name_mismatch(self):
        with self.assertRaises(ssl.SSLCertVerificationError) as cm:
            hg.request("GET", self.mock.url + "/__mock/health")
        self.assertIn("mismatch", str(cm.exception).lower())
        ctx = hg.ssl_context()
        ctx.check_hostname = False
        self.assertEqual(hg.request("GET", self.mock.url + "/__mock/health", context=ctx).status, 200)


class TestProcess(unittest.TestCase):
    def test_sigterm_and_sigint_exit_zero(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            m = hg.Mock(threads=2)
            hg.request("POST", m.url + hg.endpoint(), AUTH, hg.inputs_body(("1", "2")))
            rc = m.stop(sig)
            self.assertEqual(rc, 0, m.stderr())

    def test_exit_with_a_hanging_request(self):
        m = hg.Mock()
        s = socket.create_connection(("127.0.0.1", m.port))
        body = json.dumps(hg.inputs_body((hg.MAGIC["hang"], "1"))).encode()
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (hg.endpoint().encode(), len(body), body))
        m.wait_requests(1)
        rc = m.stop()
        s.close()
        self.assertEqual(rc, 0, m.stderr())

    def test_help_and_bad_options(self):
        import subprocess
        r = subprocess.run([hg.MOCK_BIN, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 0)
        for word in (b"99429", b"99207", b"--tls13-only", b"--expect-token", b"listening on 127.0.0.1:PORT"):
            self.assertIn(word, r.stdout)
        for args in (["--bogus"], ["--listen", "localhost"], ["--threads", "0"], ["--tls-cert", "x"], ["extra"]):
            r = subprocess.run([hg.MOCK_BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr, args)

    def test_port_file(self):
        path = os.path.join(hg.new_dir("pf"), "ports")
        m = hg.Mock(tls=True, args=["--port-file", path])
        try:
            with open(path) as fp:
                self.assertEqual(fp.read(), "%d\n%d\n" % (m.port, m.control_port))
        finally:
            self.assertEqual(m.stop(), 0)

    def test_busy_port_fails(self):
        import subprocess
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            r = subprocess.run([hg.MOCK_BIN, "--listen", "127.0.0.1:%d" % s.getsockname()[1]], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"cannot listen on 127.0.0.1:", r.stderr)


class TestPKI(unittest.TestCase):
    def test_files_and_chains(self):
        import subprocess
        p = hg.pki()
        for f in (p.ca, p.ca_key, p.upstream, p.upstream_key, p.wrong_host, p.wrong_host_key, p.other_ca, p.other,
                  p.other_key):
            self.assertTrue(os.path.getsize(f) > 0, f)

        def verify(ca, cert):
            return subprocess.run([hg.OPENSSL, "verify", "-CAfile", ca, cert], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE).returncode

        self.assertEqual(verify(p.ca, p.upstream), 0)
        self.assertEqual(verify(p.ca, p.wrong_host), 0)
        self.assertEqual(verify(p.other_ca, p.other), 0)
        self.assertNotEqual(verify(p.ca, p.other), 0)
        text = subprocess.run([hg.OPENSSL, "x509", "-in", p.wrong_host, "-noout", "-text"], stdout=subprocess.PIPE).stdout
        self.assertIn(b"DNS:example.invalid", text)
        self.assertNotIn(b"127.0.0.1", text)

    def test_idempotent(self):
        import subprocess
        p = hg.pki()
        before = {f: os.stat(os.path.join(p.dir, f)).st_mtime_ns for f in os.listdir(p.dir)}
        subprocess.run(["/bin/sh", hg.PKI_SH, p.dir], check=True, env=dict(os.environ, OPENSSL=hg.OPENSSL))
        after = {f: os.stat(os.path.join(p.dir, f)).st_mtime_ns for f in os.listdir(p.dir)}
        self.assertEqual(before, after)


FAKE_GATEWAY = r"""#!/usr/bin/python3
# A stand-in for hubgate that proves hg.Gateway: serves its listen and admin ports, logs signals.
import http.server, json, re, signal, sys, threading
text = open(sys.argv[sys.argv.index("-c") + 1]).read()
if "fail-please" in text:
    print("hubgate: configured to fail", file=sys.stderr)
    sys.exit(3)
port = int(re.search(r'^listen:\n  - "127\.0\.0\.1:(\d+)"', text, re.M).group(1))
m = re.search(r'^admin:\n  listen: "127\.0\.0\.1:(\d+)"', text, re.M)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok" if self.path == "/readyz" and self.server.admin else json.dumps({"path": self.path}).encode()
        self.send_response(200 if self.server.admin else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
servers = []
for p, admin in ((port, False), (int(m.group(1)) if m else None, True)):
    if p is None:
        continue
    try:
        s = http.server.ThreadingHTTPServer(("127.0.0.1", p), H)
    except OSError as e:
        print("hubgate: 127.0.0.1:%d: %s" % (p, e.strerror), file=sys.stderr)
        sys.exit(1)
    s.admin = admin
    servers.append(s)
    threading.Thread(target=s.serve_forever, daemon=True).start()
signal.signal(signal.SIGHUP, lambda *a: print("reloaded", file=sys.stderr, flush=True))
signal.signal(signal.SIGUSR1, lambda *a: print("reopened", file=sys.stderr, flush=True))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("started", flush=True)
while True:
    signal.pause()
"""


class TestGatewayHarness(unittest.TestCase):
    """hg.Gateway against a fake hubgate, so the harness is proven before the gateway exists."""

    def setUp(self):
        self.saved = hg.HUBGATE, hg.free_port
        hg.HUBGATE = hg.write_file(os.path.join(hg.new_dir("fake"), "hubgate"), FAKE_GATEWAY, 0o755)

    def tearDown(self):
        hg.HUBGATE, hg.free_port = self.saved

    def test_dict_config_ready_signals_stop(self):
        gw = hg.Gateway({"workers": 1, "audit": {"sqlite": "$dir/audit.db"}}, files={"keys/h1.secret": "s"})
        try:
            self.assertIn('listen:\n  - "127.0.0.1:%d"\n' % gw.port, gw.config_text)
            self.assertIn('admin:\n  listen: "127.0.0.1:%d"\n' % gw.admin_port, gw.config_text)
            self.assertIn('sqlite: "%s/audit.db"' % gw.dir, gw.config_text)
            with open(os.path.join(gw.dir, "keys", "h1.secret")) as fp:
                self.assertEqual(fp.read(), "s")
            self.assertEqual(gw.admin("GET", "/readyz").status, 200)
            r = gw.request("GET", "/x?y=1")
            self.assertEqual((r.status, r.json), (404, {"path": "/x?y=1"}))
            gw.reload()
            gw.wait_log("^reloaded$")
            gw.reopen_logs()
            gw.wait_log("^reopened$")
            self.assertTrue(gw.alive())
        finally:
            rc = gw.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(gw.stdout(), "started\n")
        self.assertFalse(gw.alive())

    def test_busy_port_is_retried(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        ports = [busy.getsockname()[1]]
        real = hg.free_port
        hg.free_port = lambda: ports.pop() if ports else real()
        try:
            gw = hg.Gateway("listen:\n  - \"127.0.0.1:$port\"\nadmin:\n  listen: \"127.0.0.1:$admin_port\"\n")
            self.assertNotEqual(gw.port, busy.getsockname()[1])
            self.assertIn("Address already in use", gw.stderr())
            self.assertEqual(gw.admin("GET", "/readyz").status, 200)
            self.assertEqual(gw.stop(), 0)
        finally:
            busy.close()

    def test_exit_during_start_reports_stderr(self):
        with self.assertRaises(RuntimeError) as cm:
            hg.Gateway('listen: ["127.0.0.1:$port"]\n# fail-please\n')
        self.assertIn("exited with 3", str(cm.exception))
        self.assertIn("configured to fail", str(cm.exception))

    def test_no_admin_waits_on_the_listen_port(self):
        gw = hg.Gateway({"admin": {"listen": None}})
        self.assertIsNone(gw.admin_url)
        self.assertIn("admin:\n  listen: null\n", gw.config_text)
        self.assertEqual(gw.request("GET", "/").status, 404)
        self.assertEqual(gw.stop(signal.SIGKILL), -signal.SIGKILL)

    def test_gateway_config(self):
        scopes = hg.seed_scopes()
        self.assertEqual(len(scopes), 65)
        self.assertEqual((scopes[0], scopes[-1]), ("crm.objects.appointments.read", "tickets.sensitive.v2"))
        if not hg.HAVE_CRYPTO:
            return
        key = hg.new_key("ES256", "e1")
        cfg = hg.gateway_config("http://127.0.0.1:1", [key], upstream={"io_timeout_ms": 500}, unmatched="forward")
        self.assertEqual(cfg["upstream"]["io_timeout_ms"], 500)
        self.assertEqual(cfg["upstream"]["url"], "http://127.0.0.1:1")
        self.assertEqual(cfg["unmatched"], "forward")
        with open(cfg["upstream"]["credential"]["token_file"]) as fp:
            self.assertEqual(fp.read(), "hubspot-private-app-token\n")
        entry = cfg["auth"]["issuers"][0]["keys"][0]
        self.assertEqual((entry["kid"], entry["alg"]), ("e1", "ES256"))
        self.assertTrue(os.path.exists(entry["pem_file"]))
        self.assertEqual(cfg["routes"][0]["path"], hg.ENDPOINT)
        self.assertTrue(os.path.exists(cfg["routes"][0]["schema"]))


class TestHarness(unittest.TestCase):
    def test_headers_multidict(self):
        h = hg.Headers([("Set-Cookie", "a"), ("content-type", "x"), ("set-cookie", "b")])
        self.assertEqual(h["CONTENT-TYPE"], "x")
        self.assertEqual(h.get_all("set-cookie"), ["a", "b"])
        self.assertIn("Content-Type", h)
        self.assertNotIn("x-none", h)
        self.assertIsNone(h.get("x-none"))
        with self.assertRaises(KeyError):
            h["x-none"]

    def test_header_dump_parsing(self):
        status, version, h = hg._parse_header_dump(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/2 207 \r\ncontent-type: a\r\nx-a: 1\r\nx-a: 2\r\n\r\n")
        self.assertEqual((status, version, h.get_all("x-a"), h["Content-Type"]), (207, "2", ["1", "2"], "a"))

    def test_yaml_writer(self):
        text = hg.to_yaml({"listen": ["127.0.0.1:$port", {"address": "a", "tls": {"certificate": "c"}}],
                           "workers": 1, "audit": {"sqlite": None, "on_failure": "reject"}, "e": [], "f": {},
                           "routes": [{"scopes_any": ["a.{fromObjectType}", "b"], "x": True}], "odd key": "\u00e9\"\n"})
        self.assertEqual(text, 'listen:\n  - "127.0.0.1:$port"\n  - address: "a"\n    tls:\n      certificate: "c"\n'
                               'workers: 1\naudit:\n  sqlite: null\n  on_failure: "reject"\ne: []\nf: {}\n'
                               'routes:\n  - scopes_any:\n      - "a.{fromObjectType}"\n      - "b"\n    x: true\n'
                               '"odd key": "\u00e9\\"\\n"\n')

    def test_mint_every_algorithm_verifies(self):
        if not hg.HAVE_CRYPTO:
            self.skipTest("python3-cryptography missing")
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
        import hmac
        import hashlib
        d = hg.new_dir("keys")
        for alg in hg.ALGS:
            key = hg.new_key(alg, kid="k-" + alg)
            tok = hg.mint(alg, key, hg.claims(scope="a b"))
            header, payload, sig = hg.decode_segments(tok)
            self.assertEqual(header, {"alg": alg, "typ": "JWT", "kid": "k-" + alg})
            self.assertEqual(payload["scope"], "a b")
            signing_input = tok.rsplit(".", 1)[0].encode()
            entry = key.config_entry(d)
            self.assertEqual(entry["alg"], alg)
            if alg.startswith("HS"):
                with open(entry["secret_file"], "rb") as fp:
                    secret = fp.read()
                self.assertEqual(sig, hmac.new(secret, signing_input, getattr(hashlib, "sha" + alg[2:])).digest())
                continue
            with open(entry["pem_file"], "rb") as fp:
                pub = serialization.load_pem_public_key(fp.read())
            h = getattr(hashes, "SHA" + alg[2:])() if alg != "EdDSA" else None
            if alg.startswith("RS"):
                pub.verify(sig, signing_input, padding.PKCS1v15(), h)
            elif alg.startswith("PS"):
                pub.verify(sig, signing_input, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
            elif alg.startswith("ES"):
                n = len(sig) // 2
                self.assertEqual(n, {"ES256": 32, "ES384": 48, "ES512": 66}[alg])
                der = encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
                pub.verify(der, signing_input, ec.ECDSA(h))
            else:
                pub.verify(sig, signing_input)

    def test_jwks_and_hostile_tokens(self):
        if not hg.HAVE_CRYPTO:
            self.skipTest("python3-cryptography missing")
        keys = [hg.new_key("RS256", "r1"), hg.new_key("ES256", "e1"), hg.new_key("EdDSA", "d1"), hg.new_key("HS256", "h1")]
        path = hg.write_jwks(os.path.join(hg.new_dir("jwks"), "idp.jwks.json"), keys)
        with open(path) as fp:
            jwks = json.load(fp)
        self.assertEqual([(k["kty"], k["kid"], k["alg"]) for k in jwks["keys"]],
                         [("RSA", "r1", "RS256"), ("EC", "e1", "ES256"), ("OKP", "d1", "EdDSA"), ("oct", "h1", "HS256")])
        self.assertEqual(jwks["keys"][0]["e"], "AQAB")
        self.assertEqual((jwks["keys"][1]["crv"], len(hg.b64url_decode(jwks["keys"][1]["x"]))), ("P-256", 32))
        self.assertNotIn("d", jwks["keys"][1])
        none_tok = hg.raw_token({"alg": "none"}, {"sub": "x"}, b"")
        self.assertTrue(none_tok.endswith("."))
        self.assertEqual(hg.raw_token("a!b", {"x": 1}, "sig"), "a!b.eyJ4IjoxfQ.sig")
        tok = hg.mint("RS256", keys[0], {"sub": "a"}, header_overrides={"alg": "HS256", "typ": None, "kid": "zz"})
        self.assertEqual(hg.decode_segments(tok)[0], {"alg": "HS256", "kid": "zz"})
        confused = hg.mint("HS256", keys[0].public_pem(), {"sub": "a"})
        self.assertEqual(len(hg.decode_segments(confused)[2]), 32)
        self.assertEqual(hg.bearer("t"), {"Authorization": "Bearer t"})


if __name__ == "__main__":
    hg.main(requires=("mock", "openssl", "curl"))
