"""test_interop.py: HubSpot's official Node SDK (@hubspot/api-client 13.5.0) against hubgate.

The contract promises that HubSpot's SDKs work through hubgate unchanged: the gateway's own error
bodies parse as HubSpot's, upstream answers (429 bodies with policyName above all) reach the SDK
as HubSpot wrote them, and the SDK's "_from" model field is what the gateway expects. This test
starts the mock upstream and hubgate, mints the tokens, runs tests/interop/sdk.mjs once (which
drives the SDK through eleven scenarios and prints what the SDK saw as JSON), and asserts on that
output and on what the mock received (each scenario sends its own X-Request-Id).

Exit 77 (skip) when node or npm is missing or the SDK cannot be installed. When
tests/interop/node_modules is missing it runs `npm ci` from the committed package-lock.json, in
the source tree when it is writable, else in a copy under the build tree.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hg  # noqa: E402

INTEROP_SRC = os.path.join(hg.SRCDIR, "tests", "interop")
FILES = ("package.json", "package-lock.json", "sdk.mjs")
SDK_VERSION = "13.5.0"
NO_SCOPE = "sales-email-read"  # a real HubSpot scope that the seed's list does not contain

NODE = shutil.which(os.environ.get("NODE") or "node")  # configure exports NODE and NPM, empty when absent
NPM = shutil.which(os.environ.get("NPM") or "npm")


def skip(reason):
    print("SKIP: " + reason)
    print("0 passed, 0 failed, 0 skipped")
    sys.stdout.flush()
    sys.exit(77)


def interop_dir():
    """The folder holding sdk.mjs next to an installed node_modules (installing it if needed);
    skips the whole test when that is impossible."""
    if not NODE or not NPM:
        skip("node or npm is not installed")
    if os.path.isfile(os.path.join(INTEROP_SRC, "node_modules", "@hubspot", "api-client", "package.json")):
        return INTEROP_SRC
    d = INTEROP_SRC
    if not os.access(INTEROP_SRC, os.W_OK):  # a read-only source tree (make distcheck)
        d = os.path.join(hg.BUILDDIR, "tests", "interop")
        os.makedirs(d, exist_ok=True)
        for name in FILES:
            shutil.copyfile(os.path.join(INTEROP_SRC, name), os.path.join(d, name))
        if os.path.isfile(os.path.join(d, "node_modules", "@hubspot", "api-client", "package.json")):
            return d
    try:
        r = subprocess.run([NPM, "ci", "--prefix", d, "--no-audit", "--no-fund", "--prefer-offline"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        skip("npm ci in %s failed: %s" % (d, e))
    if r.returncode != 0:
        skip("npm ci in %s failed (exit %d): %s" % (d, r.returncode, r.stdout.decode("utf-8", "replace")[-2000:]))
    return d


class TestNodeSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = hg.Mock()
        key = hg.new_key("ES256", "e1")
        cls.gw = hg.Gateway(hg.gateway_config(cls.mock.url, [key]))
        assert NO_SCOPE not in hg.seed_scopes()
        env = dict(os.environ, HUBGATE_URL=cls.gw.url,
                   TOKEN_OK=hg.mint("ES256", key, hg.claims(scope="crm.objects.contacts.write")),
                   TOKEN_NO_SCOPE=hg.mint("ES256", key, hg.claims(scope=NO_SCOPE)),
                   TOKEN_EXPIRED=hg.mint("ES256", key, hg.claims(ttl=-3600)))
        script = os.path.join(cls.dir, "sdk.mjs")
        r = subprocess.run([NODE, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)
        cls.stderr = r.stderr.decode("utf-8", "replace")
        if r.returncode != 0:
            raise AssertionError("node %s exited %d: %s" % (script, r.returncode, cls.stderr))
        cls.out = json.loads(r.stdout.decode("utf-8"))
        cls.records = cls.mock.requests()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.mock.stop()

    def scenario(self, name):
        s = self.out["scenarios"][name]
        self.assertNotIn(s.get("type"), ("FetchError", "TypeError", "Error"), s)
        return s

    def upstream(self, request_id):
        """The mock's records of one scenario (hubgate forwards the client's valid X-Request-Id)."""
        return [q for q in self.records if q["headers"].get("x-request-id") == request_id]

    def assertRejected(self, s, code, category, request_id):
        """The SDK's ApiException with the gateway's own error body."""
        self.assertEqual(s["outcome"], "rejected", s)
        self.assertEqual((s["type"], s["isApiException"], s["code"]), ("ApiException", True, code), s)
        self.assertEqual(s["body"]["status"], "error")
        self.assertEqual(s["body"]["category"], category)
        self.assertEqual(s["body"]["correlationId"], request_id)
        self.assertEqual(s["headers"]["x-request-id"], request_id)
        self.assertEqual(s["headers"]["content-type"], "application/json;charset=utf-8")
        self.assertEqual(self.upstream(request_id), [])

    def test_sdk_version(self):
        self.assertEqual(self.out["sdk"], SDK_VERSION)
        self.assertTrue(self.out["node"].startswith("v"), self.out["node"])

    def test_create_default_parses_into_the_sdk_models(self):
        s = self.scenario("ok")
        self.assertEqual(s["outcome"], "resolved", s)
        r = s["result"]
        self.assertEqual((r["type"], r["isModel"], r["status"]), ("BatchResponsePublicDefaultAssociation", True, "COMPLETE"))
        self.assertTrue(r["startedAtIsDate"] and r["completedAtIsDate"], r)
        spec = {"type": "PublicDefaultAssociation", "isModel": True, "fromType": "PublicObjectId",
                "specType": "AssociationSpec", "category": "HUBSPOT_DEFINED", "typeId": 279}
        self.assertEqual(r["results"], [dict(spec, **{"from": "1", "to": "2"}), dict(spec, **{"from": "3", "to": "4"})])
        [rec] = self.upstream("sdk-ok")
        self.assertEqual(rec["path"], "/crm/v4/associations/0-1/0-2/batch/associate/default")
        self.assertEqual(rec["body"], '{"inputs":[{"from":{"id":"1"},"to":{"id":"2"}},{"from":{"id":"3"},"to":{"id":"4"}}]}')
        self.assertEqual(rec["headers"]["authorization"], "Bearer hubspot-private-app-token")
        self.assertTrue(rec["headers"]["user-agent"].startswith("hubspot-api-client-nodejs; " + SDK_VERSION),
                        rec["headers"]["user-agent"])

    def test_http_info_carries_the_gateway_headers(self):
        s = self.scenario("okHttpInfo")
        self.assertEqual((s["outcome"], s["httpStatusCode"]), ("resolved", 200), s)
        self.assertEqual(s["headers"]["x-request-id"], "sdk-ok-info")
        self.assertEqual(s["headers"]["x-hubgate-route"], "create-default-associations")
        self.assertEqual(s["headers"]["x-hubgate-normalized"], "inputs=1; duplicates=0; coerced=1; dropped-fields=0")
        self.assertEqual(s["headers"]["x-hubspot-ratelimit-remaining"], "189")
        self.assertEqual([(x["from"], x["to"], x["typeId"]) for x in s["result"]["results"]], [("5", "6", 4)])
        [rec] = self.upstream("sdk-ok-info")
        self.assertEqual(rec["path"], "/crm/v4/associations/0-1/0-3/batch/associate/default")
        self.assertEqual(rec["body"], '{"inputs":[{"from":{"id":"5"},"to":{"id":"6"}}]}')

    def test_missing_scope_is_the_sdks_403(self):
        s = self.scenario("noScope")
        self.assertRejected(s, 403, "MISSING_SCOPES", "sdk-no-scope")
        self.assertEqual(s["body"]["message"], "This token has not been granted any of the scopes this call requires.")
        detail = s["body"]["errors"][-1]
        self.assertEqual(detail["context"]["requiredGranularScopes"], hg.seed_scopes())
        self.assertTrue(s["headers"]["www-authenticate"].startswith(
            'Bearer realm="hubgate", error="insufficient_scope", scope="'), s["headers"])

    def test_expired_token_is_the_sdks_401(self):
        s = self.scenario("expired")
        self.assertRejected(s, 401, "INVALID_AUTHENTICATION", "sdk-expired")
        self.assertTrue(s["headers"]["www-authenticate"].startswith('Bearer realm="hubgate", error="invalid_token"'),
                        s["headers"])

    def test_invalid_id_is_the_sdks_400_with_pointers(self):
        s = self.scenario("invalidId")
        self.assertRejected(s, 400, "VALIDATION_ERROR", "sdk-invalid-id")
        self.assertEqual(s["body"]["errors"], [{"message": "must match the pattern ^[0-9]{1,20}$", "in": "/inputs/1/from/id",
                                                "code": "pattern"}])
        self.assertEqual(s["body"]["message"],
                         "1 problem in the request body: /inputs/1/from/id: must match the pattern ^[0-9]{1,20}$")

    def test_from_written_in_js_is_dropped_by_the_sdk_and_explained(self):
        s = self.scenario("jsFromDropped")
        self.assertRejected(s, 400, "VALIDATION_ERROR", "sdk-js-from")
        [e] = s["body"]["errors"]
        self.assertEqual((e["in"], e["code"]), ("/inputs/0/from", "required"))
        self.assertEqual(e["message"], 'required property "from" is missing (HubSpot\'s Node SDK sends "to" alone when a '
                                       'caller writes "from" instead of its model\'s "_from")')

    def test_unknown_object_type(self):
        s = self.scenario("unknownType")
        self.assertRejected(s, 400, "VALIDATION_ERROR", "sdk-unknown-type")
        self.assertEqual(s["body"]["errors"], [{"message": 'unknown object type "widgets"', "in": "path:fromObjectType",
                                                "code": "unknown_object_type"}])

    def assert429(self, s, request_id, policy, message):
        self.assertEqual(s["outcome"], "rejected", s)
        self.assertEqual((s["type"], s["code"]), ("ApiException", 429), s)
        b = s["body"]
        self.assertEqual((b["status"], b["errorType"], b["policyName"], b["message"]), ("error", "RATE_LIMIT", policy, message))
        self.assertEqual(b["correlationId"], s["headers"]["x-hubspot-correlation-id"])
        self.assertEqual(s["headers"]["retry-after"], "1")
        self.assertEqual(s["headers"]["x-request-id"], request_id)

    def test_upstream_429_reaches_the_sdk_unchanged(self):
        s = self.scenario("rateLimited")
        self.assert429(s, "sdk-429", "SECONDLY", "You have reached your secondly limit.")
        self.assertEqual(len(self.upstream("sdk-429")), 1)

    def test_sdk_retries_a_secondly_429_from_its_body(self):
        s = self.scenario("rateLimitedRetried")
        self.assert429(s, "sdk-429-retry", "SECONDLY", "You have reached your secondly limit.")
        self.assertEqual(len(self.upstream("sdk-429-retry")), 2)
        self.assertGreaterEqual(s["ms"], 1000)
        self.assertIn("Request failed with status code [429], will retry [1] time in [1000] ms", self.stderr)

    def test_sdk_does_not_retry_a_daily_429(self):
        s = self.scenario("rateLimitedDaily")
        self.assert429(s, "sdk-429-daily", "DAILY", "You have reached your daily limit.")
        self.assertEqual(len(self.upstream("sdk-429-daily")), 1)

    def test_upstream_207_passes_through(self):
        s = self.scenario("multiStatus")
        self.assertEqual((s["outcome"], s["type"], s["code"]), ("rejected", "ApiException", 207), s)
        self.assertEqual((s["body"]["status"], s["body"]["numErrors"]), ("COMPLETE", 1))
        self.assertEqual(s["body"]["errors"][0]["context"], {"fromObjectId": ["992071"], "toObjectId": ["3"]})
        self.assertEqual(s["headers"]["x-hubgate-normalized"], "inputs=2; duplicates=0; coerced=0; dropped-fields=0")
        self.assertEqual(len(self.upstream("sdk-207")), 1)


if __name__ == "__main__":
    reasons = hg.missing(("mock", "hubgate", "crypto"))
    if not reasons:
        TestNodeSdk.dir = interop_dir()
    hg.main(requires=("mock", "hubgate", "crypto"))
