"""test_tokens.py: bearer tokens through the real hubgate and the mock HubSpot (issue 4).

What a client and an ops team see of CONTRACT.md section 4 steps 4, 5 and 7 and section 5, end to
end: hubgate is started as a process with keys written to files (pem_file, secret_file, jwks_file)
or served by a small JWKS server on loopback (jwks_url); tokens are minted by the harness
(tests/hg.py, python3-cryptography), an implementation independent of the gateway's.

- TestHostileTokens: nearly ninety forged, broken or misused tokens and Authorization headers,
  each refused with 401, the exact WWW-Authenticate (RFC 6750), a HubSpot-shaped body whose
  correlationId is the X-Request-Id and whose message does not echo the token, and nothing reaching
  the mock. TestTwoAuthorizationHeaders: the same for two headers, and the gateway keeps serving.
- TestEveryAlgorithm: valid tokens of all thirteen algorithms are forwarded with the upstream
  credential, never the client's JWT; typ variants, exp as a real number, leeway at its edges.
- TestScopes*, TestSeedScopes, TestStrictTemplate, TestScopeTemplates: exact scope matching,
  scope_claims order, 403 with WWW-Authenticate scope="..." and requiredGranularScopes, templates
  expanded per object type (none for types without a scope name).
- TestJwksFile, TestJwksUrl*: key sources; JWKS refetch on an unknown kid, key removal on refresh,
  the last good set kept when the JWKS server fails, /readyz until the first fetch.
- TestTokenCache: hits counted in /metrics; a cached token is refused once it expires.
- TestPassthrough: the client's Authorization header is forwarded unchanged.
- TestSecretsNeverLogged, and every class on teardown: no token, HMAC secret or upstream token in
  the gateway's stderr, stdout, access log or audit files.

Every wait polls a condition (hg.wait_until); nothing sleeps for a fixed time.
"""

import base64
import http.server
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hg  # noqa: E402

ISSUER = "https://idp.example.internal"
OTHER_ISSUER = "https://other-idp.example.internal"
LEEWAY = 30
#: jwks_url refresh_s of the rotation tests (the configuration's minimum)
REFRESH_S = 1
MAX_TOKEN = 2048
REALM_ONLY = 'Bearer realm="hubgate"'
BODY = hg.inputs_body(("1", "2"))
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
WRITE_CONTACTS = "crm.objects.contacts.write"


# ---------------------------------------------------------------------------
# helpers


def now():
    return int(time.time())


def www_invalid(description):
    return 'Bearer realm="hubgate", error="invalid_token", error_description="%s"' % description


def www_scope(scopes):
    return 'Bearer realm="hubgate", error="insufficient_scope", scope="%s"' % " ".join(scopes)


_rsa = {}


def rsa_private(slot):
    """An RSA 2048 private key shared by the tests that ask for the same slot (keys are slow to make)."""
    if slot not in _rsa:
        _rsa[slot] = hg.new_key("RS256").private
    return _rsa[slot]


def make_key(alg, kid=None, rsa_slot=0):
    """A Key; HMAC secrets are printable (the gateway trims CR/LF at the end of a secret file, so random
    bytes could end up shorter than minted with) and twice the hash size."""
    if alg.startswith("HS"):
        return hg.new_key(alg, kid, private=secrets.token_hex(int(alg[2:]) // 8).encode("ascii"))
    if alg[:2] in ("RS", "PS"):
        return hg.new_key(alg, kid, private=rsa_private(rsa_slot))
    return hg.new_key(alg, kid)


def jti():
    """A fresh jti claim, so that a token is never one the gateway has cached."""
    return secrets.token_hex(8)


def seg_json(obj):
    return hg.b64url(obj)


def signed_raw(alg, key, header_bytes, payload_bytes):
    """A token whose header and payload are exactly these bytes (not re-serialized), signed."""
    return hg.resign(hg.raw_token(header_bytes, payload_bytes, b""), alg, key)


def token_of_length(n, alg, key, **claim_kw):
    """A valid token of exactly n characters: a padding claim and a padding header member are sized
    by computing the segment lengths (the signature's length is fixed per key)."""
    sig_len = len(hg.mint(alg, key, hg.claims(**claim_kw)).split(".")[2])
    base = hg.claims(**claim_kw)
    for hp in range(0, 4):
        header = {"alg": alg, "typ": "JWT", "kid": key.kid}
        if hp:
            header["hp"] = "h" * hp
        hlen = len(hg.b64url(header))
        for pad in range(0, n):
            plen = len(hg.b64url(dict(base, pad="p" * pad)))
            total = hlen + 1 + plen + 1 + sig_len
            if total == n:
                return hg.mint(alg, key, dict(base, pad="p" * pad), {"hp": "h" * hp} if hp else None)
            if total > n:
                break
    raise AssertionError("no token of length %d" % n)


def metric(gw, name):
    """The value of an unlabelled counter in /metrics."""
    r = gw.admin("GET", "/metrics")
    assert r.status == 200, r
    m = re.search(r"^%s (\d+)$" % re.escape(name), r.text, re.M)
    assert m, "%s not in /metrics" % name
    return int(m.group(1))


def secret_pieces(token):
    """What of a token must never be written anywhere: the token, and each long enough segment."""
    out = {token} if len(token) >= 16 else set()
    out.update(s for s in token.split(".") if len(s) >= 16)
    return out


def gateway_outputs(gw):
    """(name, bytes) of every file the gateway wrote in its directory: stderr, stdout, access log,
    SQLite audit store with its -wal/-shm, JSON Lines audit (the configuration itself excluded)."""
    out = []
    for name in sorted(os.listdir(gw.dir)):
        path = os.path.join(gw.dir, name)
        if name == os.path.basename(gw.config_path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as fp:
            out.append((name, fp.read()))
    return out


def leaks(gw, needles):
    """[(file, needle)] of the needles (str or bytes) found in the gateway's outputs."""
    found = []
    for name, data in gateway_outputs(gw):
        for needle in needles:
            b = needle.encode("utf-8") if isinstance(needle, str) else needle
            if b and b in data:
                found.append((name, needle[:40]))
    return found


class JwksServer:
    """A JWKS endpoint on loopback (http.server in a thread) whose answer a test changes: keys,
    status; counts the GETs and the failures it served. down() replaces it by a listener that
    accepts and closes every connection (counted in `resets`), as a crashed server would."""

    def __init__(self, port=None):
        self.port = port or hg.free_port()
        self.url = "http://127.0.0.1:%d/.well-known/jwks.json" % self.port
        self.lock = threading.Lock()
        self.body = b'{"keys":[]}'
        self.status = 200
        self.hits = 0
        self.failures = 0
        self.resets = 0
        self.httpd = None
        self.thread = None
        self.sock = None

    def set_keys(self, keys):
        with self.lock:
            self.body = json.dumps({"keys": [k.jwk() for k in keys]}).encode("utf-8")

    def set_status(self, status):
        with self.lock:
            self.status = status

    def count(self, what):
        with self.lock:
            return getattr(self, what)

    def start(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    server.hits += 1
                    status, body = server.status, server.body
                    if status != 200:
                        server.failures += 1
                        body = b'{"error":"unavailable"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def down(self):
        """Stops serving HTTP; the port then accepts connections and closes them without an answer."""
        self.stop()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)

        def run(sock):
            while True:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                with self.lock:
                    self.resets += 1
                conn.close()

        self.thread = threading.Thread(target=run, args=(self.sock,), daemon=True)
        self.thread.start()

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread on Linux
            except OSError:
                pass
            self.sock.close()
            self.sock = None


# ---------------------------------------------------------------------------
# base class: one mock and one gateway per class


class GatewayCase(unittest.TestCase):
    """Starts a mock and a gateway per class (config()), clears the mock before each test, records
    every token it sends (and the class's secrets) and, on teardown, stops the gateway and checks
    that none of them was written into the gateway's outputs."""

    gw = None
    mock = None

    @classmethod
    def config(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.needles = set()
        cls.upstream_token = "pat-na1-" + secrets.token_hex(16)
        cls.needles.add(cls.upstream_token)
        cls.mock = hg.Mock()
        try:
            cls.gw = hg.Gateway(cls.config())
        except Exception:
            cls.mock.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.gw is not None:
                rc = cls.gw.stop()
                if rc != 0:
                    raise AssertionError("hubgate exited %d: %s" % (rc, cls.gw.stderr()))
                found = leaks(cls.gw, cls.needles)
                if found:
                    raise AssertionError("secrets in the gateway's outputs: %r" % found)
        finally:
            cls.mock.stop()

    @classmethod
    def base_config(cls, keys, **overrides):
        return hg.gateway_config(cls.mock.url, keys, upstream_token=cls.upstream_token, **overrides)

    @classmethod
    def remember_keys(cls, keys):
        for k in keys:
            if k.kty == "oct":
                cls.needles.add(k.secret)

    def setUp(self):
        self.mock.clear()

    def post(self, token=None, headers=None, path=None, body=BODY):
        """POST to the seed endpoint with "Authorization: Bearer <token>" (token) or with exactly
        the given header pairs; every token sent is remembered for the leak check."""
        pairs = list(headers or [])
        if token is not None:
            pairs.append(("Authorization", "Bearer " + token))
        for k, v in pairs:
            if k.lower() == "authorization":
                for piece in v.split(" "):
                    self.needles.update(secret_pieces(piece))
        return self.gw.request("POST", path or hg.endpoint(), pairs, body)

    def assertErrorShape(self, r, status, category):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("Content-Type"), "application/json;charset=utf-8", r)
        self.assertIsNotNone(r.json, r)
        self.assertEqual(r.json["status"], "error", r)
        self.assertEqual(r.json["category"], category, r)
        rid = r.headers.get("X-Request-Id")
        self.assertRegex(rid or "", REQUEST_ID)
        self.assertEqual(r.json["correlationId"], rid, r)

    def assertUnauthorized(self, r, description, why=None, sent=()):
        """401 with WWW-Authenticate naming `description` (None: realm only, no token was sent),
        INVALID_AUTHENTICATION, a message with the reason (`why`, default description) that echoes
        none of `sent`, and no request at the mock."""
        self.assertErrorShape(r, 401, "INVALID_AUTHENTICATION")
        want = www_invalid(description) if description is not None else REALM_ONLY
        self.assertEqual(r.headers.get_all("WWW-Authenticate"), [want], r)
        self.assertIn(why or description, r.json["message"])
        for token in sent:
            for piece in secret_pieces(token):
                self.assertNotIn(piece, r.text)
                self.assertNotIn(piece, r.headers["WWW-Authenticate"])
        self.assertEqual(self.mock.requests(), [])

    def assertForbidden(self, r, scopes):
        """403 insufficient_scope naming exactly `scopes`, MISSING_SCOPES, requiredGranularScopes, no
        request at the mock."""
        self.assertErrorShape(r, 403, "MISSING_SCOPES")
        self.assertEqual(r.headers.get_all("WWW-Authenticate"), [www_scope(scopes)], r)
        self.assertEqual(r.json["errors"][0]["context"]["requiredGranularScopes"], list(scopes), r)
        self.assertEqual(self.mock.requests(), [])

    def assertForwarded(self, r, path="/crm/v4/associations/0-1/0-2/batch/associate/default", sent=None):
        """200 from the mock, which received the upstream credential and never the client's token."""
        self.assertEqual(r.status, 200, r)
        rec = self.mock.last_request()
        self.assertIsNotNone(rec)
        self.assertEqual(rec["path"], path)
        self.assertEqual(rec["headers"].get_all("authorization"), ["Bearer " + self.upstream_token])
        self.assertEqual(rec["headers"].get("x-request-id"), r.headers["X-Request-Id"])
        if sent is not None:
            self.assertNotIn(sent, json.dumps(rec["header_pairs"]) + rec["body"])
            for piece in sent.split("."):
                self.assertNotIn(piece, json.dumps(rec["header_pairs"]))
        return rec


# ---------------------------------------------------------------------------
# 401: the hostile-token matrix


class TestHostileTokens(GatewayCase):
    @classmethod
    def config(cls):
        cls.k1 = make_key("RS256", "k1", rsa_slot=0)
        cls.h1 = make_key("HS256", "h1")
        cls.e1 = make_key("ES256", "e1")
        cls.d1 = make_key("EdDSA", "d1")
        cls.o1 = make_key("RS256", "o1", rsa_slot=1)  # the other issuer's key
        cls.remember_keys([cls.h1])
        cfg = cls.base_config([cls.k1, cls.h1, cls.e1, cls.d1], auth={"leeway_s": LEEWAY, "max_token_bytes": MAX_TOKEN})
        d = hg.new_dir("keys")
        cfg["auth"]["issuers"].append({"issuer": OTHER_ISSUER, "audiences": ["hubgate"], "keys": [cls.o1.config_entry(d)]})
        return cfg

    def good(self, **kw):
        return hg.mint("RS256", self.k1, hg.claims(jti=jti(), **kw))

    def matrix(self):
        """(name, Authorization header values, error_description or None, reason in the message)."""
        k1, h1, e1, o1 = self.k1, self.h1, self.e1, self.o1
        t = now()
        C = hg.claims
        good = self.good()
        h, p, s = good.split(".")
        header = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
        payload = hg.decode_segments(good)[1]
        pem = k1.public_pem()
        attacker = make_key("RS256", "k1", rsa_slot=2)
        attacker_ed = make_key("EdDSA", "d1")
        p384 = make_key("ES384", "e1")

        def mint(alg, key, claims_=None, hdr=None, typ="JWT"):
            return hg.mint(alg, key, claims_ if claims_ is not None else C(jti=jti()), hdr, typ)

        def raw(hdr, pl, sig=b"sig"):
            return hg.raw_token(hdr, pl, sig)

        def rs(claims_):
            return mint("RS256", k1, claims_)

        # the RS256 signature with one unused trailing bit set: same bytes to a lenient decoder
        assert len(s) % 4 == 2
        s_noncanon = s[:-1] + B64URL[B64URL.index(s[-1]) ^ 1]
        std_idx = next(i for i, ch in enumerate(s) if ch in "-_")
        s_std = s[:std_idx] + {"-": "+", "_": "/"}[s[std_idx]] + s[std_idx + 1:]
        hjson = json.dumps(header, separators=(",", ":"))
        while len(hjson) % 3 == 0:
            hjson += " "
        h_padded = base64.urlsafe_b64encode(hjson.encode()).decode()
        assert h_padded.endswith("=")
        es_si = hg.b64url({"alg": "ES256", "typ": "JWT", "kid": "e1"}) + "." + hg.b64url(C(jti=jti()))
        es_der = es_si + "." + hg.b64url(e1.private.sign(es_si.encode(), hg.ec.ECDSA(hg.hashes.SHA256())))
        hs_trunc = mint("HS256", h1)
        hs_trunc = hs_trunc.rsplit(".", 1)[0] + "." + hg.b64url(hg.b64url_decode(hs_trunc.rsplit(".", 1)[1])[:16])
        big = token_of_length(MAX_TOKEN + 1, "RS256", k1, jti=jti())
        dup_payload = ('{"iss":"%s","aud":"hubgate","sub":"svc-test","sub":"admin","scope":"%s","iat":%d,"exp":%d}'
                       % (ISSUER, WRITE_CONTACTS, t, t + 300)).encode()
        nul_payload = ('{"iss":"%s","aud":"hubgate","sub":"svc","scope":"%s\\u0000x","iat":%d,"exp":%d}'
                       % (ISSUER, WRITE_CONTACTS, t, t + 300)).encode()
        bad_std = "malformed token: bad base64url in signature"
        sig_invalid = "signature invalid"
        parts3 = "malformed token: expected three dot-separated parts"

        m = []
        for v in ("none", "None", "NONE", "nOnE"):
            m.append(("alg %s" % v, ["Bearer " + raw({"alg": v, "typ": "JWT"}, C(), b"")], "algorithm none not allowed"))
        m += [
            ("alg none with kid and a signature", ["Bearer " + raw({"alg": "none", "kid": "k1"}, C(), b"x" * 32)],
             "algorithm none not allowed"),
            ("HS256 with the RSA public PEM as secret, kid k1", ["Bearer " + mint("HS256", pem, None, {"kid": "k1"})],
             "algorithm HS256 not allowed for key k1"),
            ("HS256 with the RSA public PEM as secret, no kid", ["Bearer " + mint("HS256", pem)], sig_invalid),
            ("HS256 with the other issuer's PEM, issuer without HMAC key",
             ["Bearer " + mint("HS256", o1.public_pem(), C(iss=OTHER_ISSUER))], "algorithm HS256 not allowed for this issuer"),
            ("tampered payload (sub)", ["Bearer %s.%s.%s" % (h, seg_json(dict(payload, sub="admin")), s)], sig_invalid),
            ("tampered payload (scope widened)",
             ["Bearer %s.%s.%s" % (h, seg_json(dict(payload, scope=WRITE_CONTACTS + " crm.objects.deals.write")), s)],
             sig_invalid),
            ("tampered header (typ)", ["Bearer %s.%s.%s" % (seg_json(dict(header, typ="at+jwt")), p, s)], sig_invalid),
            ("tampered header (kid removed)", ["Bearer %s.%s.%s" % (seg_json({"alg": "RS256", "typ": "JWT"}), p, s)],
             sig_invalid),
            ("expired beyond leeway", ["Bearer " + rs(C(iat=t - 600, exp=t - LEEWAY - 10))], "token expired"),
            ("expired long ago", ["Bearer " + rs(C(iat=1, exp=2))], "token expired"),
            ("nbf in the future", ["Bearer " + rs(C(nbf=t + LEEWAY + 60))], "token not yet valid"),
            ("iat in the future", ["Bearer " + rs(C(iat=t + LEEWAY + 60, exp=t + 3600))], "token issued in the future"),
            ("wrong iss", ["Bearer " + rs(C(iss="https://evil.example"))], "issuer not accepted"),
            ("iss with a trailing slash", ["Bearer " + rs(C(iss=ISSUER + "/"))], "issuer not accepted"),
            ("iss not a string", ["Bearer " + rs(C(iss=["https://idp.example.internal"]))], "issuer not accepted"),
            ("iss missing", ["Bearer " + rs(C(iss=None))], "iss claim missing"),
            ("wrong aud", ["Bearer " + rs(C(aud="hubgate-staging"))], "audience not accepted"),
            ("aud array without ours", ["Bearer " + rs(C(aud=["billing", "HUBGATE", "hubgate "]))], "audience not accepted"),
            ("aud empty array", ["Bearer " + rs(C(aud=[]))], "audience not accepted"),
            ("aud missing", ["Bearer " + rs(C(aud=None))], "aud claim missing"),
            ("aud array with a number", ["Bearer " + rs(C(aud=[7, "hubgate"]))], "malformed claim aud"),
            ("unknown kid", ["Bearer " + mint("RS256", make_key("RS256", "k9", rsa_slot=0))], "unknown key id 'k9'"),
            ("kid with quotes and backslashes",
             ["Bearer " + mint("RS256", k1, None, {"kid": 'k1" error="x\\ y'})], "unknown key id 'k1??error??x??y'"),
            ("kid of 60 characters", ["Bearer " + mint("RS256", k1, None, {"kid": "k" * 60})],
             "unknown key id '%s...'" % ("k" * 40)),
            ("kid not a string", ["Bearer " + mint("RS256", k1, None, {"kid": 1})], "malformed token: kid is not a string"),
            ("exp missing", ["Bearer " + rs(C(exp=None))], "exp claim missing"),
            ("exp as a string", ["Bearer " + rs(C(exp=str(t + 300)))], "malformed claim exp"),
            ("nbf as a string", ["Bearer " + rs(C(nbf=str(t)))], "malformed claim nbf"),
            ("iat as a boolean", ["Bearer " + rs(C(iat=True))], "malformed claim iat"),
            ("scope as a number", ["Bearer " + rs(C(scope=1))], "malformed claim scope"),
            ("scope array with a number", ["Bearer " + rs(C(scope=[WRITE_CONTACTS, 2]))], "malformed claim scope"),
            ("NUL inside a scope", ["Bearer " + signed_raw("RS256", k1, json.dumps(header).encode(), nul_payload)],
             "malformed token: payload is not valid JSON"),
            ("alg in lower case (rs256)", ["Bearer " + mint("RS256", k1, None, {"alg": "rs256"})],
             "unsupported algorithm 'rs256'"),
            ("alg RSA-OAEP (an encryption alg)", ["Bearer " + mint("RS256", k1, None, {"alg": "RSA-OAEP"})],
             "unsupported algorithm 'RSA-OAEP'"),
            ("alg missing", ["Bearer " + mint("RS256", k1, None, {"alg": None})], "malformed token: alg missing"),
            ("alg not a string", ["Bearer " + mint("RS256", k1, None, {"alg": ["RS256"]})],
             "malformed token: alg is not a string"),
            ("PS256 with the RS256 key k1", ["Bearer " + mint("PS256", k1)], "algorithm PS256 not allowed for key k1"),
            ("RS384 with the RS256 key k1", ["Bearer " + mint("RS384", k1)], "algorithm RS384 not allowed for key k1"),
            ("RS512 without kid, no RS512 key", ["Bearer " + mint("RS512", k1, None, {"kid": None})],
             "algorithm RS512 not allowed for this issuer"),
            ("ES384 named e1 (an ES256 key)", ["Bearer " + mint("ES384", p384)], "algorithm ES384 not allowed for key e1"),
            ("oversized (max_token_bytes + 1)", ["Bearer " + big], "token too large"),
            ("character outside base64url in header", ["Bearer %s*%s.%s.%s" % (h[:5], h[6:], p, s)],
             "malformed token: bad base64url in header"),
            ("character outside base64url in payload", ["Bearer %s.%s+%s.%s" % (h, p[:7], p[8:], s)],
             "malformed token: bad base64url in payload"),
            ("non-ASCII byte in payload", ["Bearer %s.%s\u00e9%s.%s" % (h, p[:7], p[8:], s)],
             "malformed token: bad base64url in payload"),
            ("standard base64 alphabet in signature", ["Bearer %s.%s.%s" % (h, p, s_std)], bad_std),
            ("non-canonical trailing bits in signature", ["Bearer %s.%s.%s" % (h, p, s_noncanon)], bad_std),
            ("padding '=' on the signature", ["Bearer %s.%s.%s==" % (h, p, s)], bad_std),
            ("padding '=' on the header", ["Bearer " + hg.resign("%s.%s.x" % (h_padded, p), "RS256", k1)],
             "malformed token: bad base64url in header"),
            ("one segment", ["Bearer " + h], parts3),
            ("two segments", ["Bearer %s.%s" % (h, p)], parts3),
            ("four segments", ["Bearer %s.%s.%s.%s" % (h, p, s, s)], parts3),
            ("five segments (JWE form)", ["Bearer %s.%s.%s.%s.%s" % (h, p, s, p, s)], parts3),
            ("empty signature", ["Bearer %s.%s." % (h, p)], sig_invalid),
            ("all segments empty", ["Bearer .."], "malformed token: header is not valid JSON"),
            ("header a JSON array", ["Bearer " + raw(["RS256"], C())], "malformed token: header is not a JSON object"),
            ("payload a JSON string", ["Bearer " + signed_raw("RS256", k1, json.dumps(header).encode(), b'"claims"')],
             "malformed token: payload is not a JSON object"),
            ("header not JSON", ["Bearer " + raw(b"alg=RS256", C())], "malformed token: header is not valid JSON"),
            ("payload not JSON", ["Bearer " + signed_raw("RS256", k1, json.dumps(header).encode(), b"{iss: x")],
             "malformed token: payload is not valid JSON"),
            ("duplicate claim (sub twice)", ["Bearer " + signed_raw("RS256", k1, json.dumps(header).encode(), dup_payload)],
             "malformed token: duplicate member in payload"),
            ("duplicate header member (alg twice)",
             ["Bearer " + signed_raw("RS256", k1, b'{"alg":"RS256","alg":"none","kid":"k1"}', json.dumps(C()).encode())],
             "malformed token: duplicate member in header"),
            ("typ JWS", ["Bearer " + mint("RS256", k1, None, None, "JWS")], "token type 'JWS' not accepted"),
            ("typ JOSE", ["Bearer " + mint("RS256", k1, None, None, "JOSE")], "token type 'JOSE' not accepted"),
            ("typ not a string", ["Bearer " + mint("RS256", k1, None, {"typ": 1})], "malformed token: typ is not a string"),
            ("crit header", ["Bearer " + mint("RS256", k1, None, {"crit": ["exp"]})], "crit header not supported"),
            ("valid token from another issuer's key (iss ours, kid o1)", ["Bearer " + mint("RS256", o1)],
             "unknown key id 'o1'"),
            ("kid k1 but signed by a foreign RSA key", ["Bearer " + mint("RS256", attacker)], sig_invalid),
            ("embedded jwk header with the attacker's key",
             ["Bearer " + mint("RS256", attacker, None, {"jwk": attacker.jwk(), "kid": None})], sig_invalid),
            ("jku header pointing to the attacker",
             ["Bearer " + mint("RS256", attacker, None, {"jku": "https://evil.example/jwks.json"})], sig_invalid),
            ("ES256 with a DER signature instead of r||s", ["Bearer " + es_der], sig_invalid),
            ("EdDSA signed with a wrong key", ["Bearer " + mint("EdDSA", attacker_ed)], sig_invalid),
            ("HS256 with a wrong secret", ["Bearer " + mint("HS256", make_key("HS256", "h1"))], sig_invalid),
            ("HS256 MAC truncated to 16 bytes", ["Bearer " + hs_trunc], sig_invalid),
            # the header itself (two Authorization headers: TestTwoAuthorizationHeaders)
            ("Bearer without a token", ["Bearer"], "empty bearer token"),
            ("Bearer and a space without a token", ["Bearer "], "empty bearer token"),
            ("token with a trailing space", ["Bearer %s " % self.good()], "malformed authorization header"),
            ("token with a trailing tab", ["Bearer %s\t" % self.good()], "malformed authorization header"),
            ("two spaces after Bearer", ["Bearer  " + self.good()], "malformed authorization header"),
            ("two tokens in one header", ["Bearer %s %s" % (self.good(), self.good())], "malformed authorization header"),
        ]
        # no bearer token at all: realm only (RFC 6750 section 3.1), the reason in the message
        m += [
            ("Basic scheme", ["Basic " + base64.b64encode(b"svc:hunter2-secret").decode()], None,
             "authorization scheme is not Bearer"),
            ("Bearer followed by a tab", ["Bearer\t" + self.good()], None, "authorization scheme is not Bearer"),
            ("Bearer: with a colon", ["Bearer: " + self.good()], None, "authorization scheme is not Bearer"),
            ("the token without a scheme", [self.good()], None, "authorization scheme is not Bearer"),
            ("empty Authorization header", [""], None, "missing bearer token"),
            ("no Authorization header", [], None, "missing bearer token"),
        ]
        return [e if len(e) == 4 else e + (None,) for e in m]

    def test_matrix_is_refused_before_the_upstream(self):
        cases = self.matrix()
        self.assertGreaterEqual(len(cases), 30)
        names = [c[0] for c in cases]
        self.assertEqual(len(names), len(set(names)))
        for name, values, description, why in cases:
            with self.subTest(name):
                r = self.post(headers=[("Authorization", v) for v in values])
                sent = [v.split(" ", 1)[-1] for v in values if v]
                self.assertUnauthorized(r, description, why, sent)

    def test_positive_controls(self):
        """The keys of the matrix's gateway do verify: each refusal above is about its token alone."""
        big = token_of_length(MAX_TOKEN, "RS256", self.k1, jti=jti())
        for name, token in (("RS256 k1", self.good()), ("HS256 h1", hg.mint("HS256", self.h1, hg.claims(jti=jti()))),
                            ("ES256 e1", hg.mint("ES256", self.e1, hg.claims(jti=jti()))),
                            ("EdDSA d1", hg.mint("EdDSA", self.d1, hg.claims(jti=jti()))),
                            ("other issuer's key with its own iss", hg.mint("RS256", self.o1, hg.claims(iss=OTHER_ISSUER))),
                            ("exactly max_token_bytes", big)):
            with self.subTest(name):
                self.mock.clear()
                self.assertForwarded(self.post(token), sent=token)
        with self.subTest("scheme in lower case"):
            token = self.good()
            self.assertForwarded(self.post(headers=[("Authorization", "bearer " + token)]), sent=token)

    def test_request_id_is_the_correlation_id(self):
        r = self.post(headers=[("Authorization", "Bearer x.y.z"), ("X-Request-Id", "itest-auth.401:a-1")])
        self.assertUnauthorized(r, "malformed token: bad base64url in header")  # "x" is one base64 character
        self.assertEqual(r.headers["X-Request-Id"], "itest-auth.401:a-1")
        self.assertEqual(r.json["correlationId"], "itest-auth.401:a-1")

    def test_refusal_is_audited_without_the_token(self):
        token = hg.mint("RS256", make_key("RS256", "k1", rsa_slot=2), hg.claims(jti=jti()))
        r = self.post(token, headers=[("X-Request-Id", "itest-auth-audit-401")])
        self.assertUnauthorized(r, "signature invalid", sent=[token])

        def record():
            a = self.gw.admin("GET", "/audit?request_id=itest-auth-audit-401")
            return a.json["records"] if a.status == 200 and a.json and a.json["records"] else None

        rec = hg.wait_until(record, what="the audit record")[0]
        self.assertEqual((rec["decision"], rec["status"], rec["error"], rec["upstream_status"]),
                         ("rejected_auth", 401, "signature invalid", None))
        self.assertNotIn(token.split(".")[2], json.dumps(rec))


# ---------------------------------------------------------------------------
# valid tokens: every algorithm, typ, exp as a real number, leeway


class TestEveryAlgorithm(GatewayCase):
    @classmethod
    def config(cls):
        cls.keys = {}
        for alg in hg.ALGS:
            cls.keys[alg] = make_key(alg, "v-" + alg.lower(), rsa_slot=0 if alg.startswith("RS") else 1)
        cls.remember_keys(cls.keys.values())
        return cls.base_config(list(cls.keys.values()), auth={"leeway_s": LEEWAY})

    def mint(self, alg="RS256", claims_=None, **kw):
        return hg.mint(alg, self.keys[alg], claims_ if claims_ is not None else hg.claims(jti=jti()), **kw)

    def test_every_algorithm_is_forwarded_with_the_upstream_credential(self):
        self.assertEqual(len(hg.ALGS), 13)
        for alg in hg.ALGS:
            with self.subTest(alg):
                self.mock.clear()
                token = self.mint(alg)
                rec = self.assertForwarded(self.post(token), sent=token)
                self.assertEqual(json.loads(rec["body"]), BODY)

    def test_every_algorithm_without_kid(self):
        for alg in hg.ALGS:
            with self.subTest(alg):
                self.mock.clear()
                token = self.mint(alg, header_overrides={"kid": None})
                self.assertForwarded(self.post(token), sent=token)

    def test_typ_absent_jwt_and_at_jwt(self):
        for typ in (None, "JWT", "at+jwt", "application/at+jwt"):
            with self.subTest(typ=typ):
                self.mock.clear()
                token = self.mint("ES256", typ=typ)
                self.assertForwarded(self.post(token), sent=token)

    def test_exp_as_a_real_number(self):
        t = now()
        header = json.dumps({"alg": "RS256", "typ": "JWT", "kid": "v-rs256"}).encode()
        for name, exp in (("fraction", "%d.75" % (t + 300)), ("exponent", "%.9e" % (t + 300)),
                          ("exponent with a fraction", "%.10e" % (t + 300.5))):
            with self.subTest(name, exp=exp):
                self.mock.clear()
                payload = ('{"iss":"%s","aud":"hubgate","sub":"svc","scope":"%s","iat":%d,"exp":%s}'
                           % (ISSUER, WRITE_CONTACTS, t, exp)).encode()
                token = signed_raw("RS256", self.keys["RS256"], header, payload)
                self.assertForwarded(self.post(token), sent=token)
        with self.subTest("a real number in the past"):
            self.mock.clear()
            payload = ('{"iss":"%s","aud":"hubgate","scope":"%s","exp":%.1f}' % (ISSUER, WRITE_CONTACTS, t - LEEWAY - 100.5))
            token = signed_raw("RS256", self.keys["RS256"], header, payload.encode())
            self.assertUnauthorized(self.post(token), "token expired", sent=[token])

    def test_leeway_edges(self):
        t = now()
        cases = (
            ("exp = now - leeway + 5", hg.claims(jti=jti(), iat=t - 600, exp=t - LEEWAY + 5), None),
            ("exp = now - leeway - 5", hg.claims(jti=jti(), iat=t - 600, exp=t - LEEWAY - 5), "token expired"),
            ("nbf = now + leeway - 5", hg.claims(jti=jti(), nbf=t + LEEWAY - 5), None),
            ("nbf = now + leeway + 5", hg.claims(jti=jti(), nbf=t + LEEWAY + 5), "token not yet valid"),
            ("iat = now + leeway - 5", hg.claims(jti=jti(), iat=t + LEEWAY - 5), None),
            ("iat = now + leeway + 5", hg.claims(jti=jti(), iat=t + LEEWAY + 5), "token issued in the future"),
        )
        for name, claims_, refusal in cases:
            with self.subTest(name):
                self.mock.clear()
                token = self.mint("HS384", claims_)
                r = self.post(token)
                if refusal is None:
                    self.assertForwarded(r, sent=token)
                else:
                    self.assertUnauthorized(r, refusal, sent=[token])


# ---------------------------------------------------------------------------
# 403: scopes


class ScopeCase(GatewayCase):
    scopes_any = [WRITE_CONTACTS, "crm.objects.companies.write"]
    auth = {}

    @classmethod
    def route_scopes(cls):
        return list(cls.scopes_any)

    @classmethod
    def config(cls):
        cls.key = make_key("ES256", "s1")
        cls.scopes_any = cls.route_scopes()
        return cls.base_config([cls.key], scopes_any=cls.scopes_any, auth=cls.auth)

    def token(self, **claims_kw):
        claims_kw.setdefault("jti", jti())
        return hg.mint("ES256", self.key, hg.claims(**claims_kw))


class TestScopes(ScopeCase):
    def test_granted(self):
        for name, kw in (
            ("scope string, exact", {"scope": WRITE_CONTACTS}),
            ("scope string, one of several", {"scope": "openid crm.objects.deals.read crm.objects.companies.write"}),
            ("scp array", {"scope": None, "scp": ["profile", WRITE_CONTACTS]}),
            ("scp space-separated string", {"scope": None, "scp": "profile " + WRITE_CONTACTS}),
            ("scope and scp both granting", {"scope": WRITE_CONTACTS, "scp": [WRITE_CONTACTS]}),
        ):
            with self.subTest(name):
                self.mock.clear()
                self.assertForwarded(self.post(self.token(**kw)))

    def test_not_exact_is_refused(self):
        for name, kw in (
            ("prefix (writ)", {"scope": "crm.objects.contacts.writ"}),
            ("superstring (write.extra)", {"scope": "crm.objects.contacts.write.extra"}),
            ("shorter (crm.objects.contacts)", {"scope": "crm.objects.contacts"}),
            ("substring inside a longer scope", {"scope": "x" + WRITE_CONTACTS + "x"}),
            ("other case", {"scope": WRITE_CONTACTS.upper()}),
            ("wildcard", {"scope": "crm.objects.* *"}),
            ("comma-separated", {"scope": WRITE_CONTACTS + ",crm.objects.companies.write"}),
            ("tab-separated", {"scope": "openid\t" + WRITE_CONTACTS}),
            ("scp element containing a space", {"scope": None, "scp": [WRITE_CONTACTS + " crm.objects.companies.write"]}),
            ("empty scope", {"scope": ""}),
            ("empty scp array", {"scope": None, "scp": []}),
            ("no scope claim at all", {"scope": None}),
            ("a claim that is not a scope claim", {"scope": None, "scopes": [WRITE_CONTACTS], "roles": [WRITE_CONTACTS]}),
        ):
            with self.subTest(name):
                self.assertForbidden(self.post(self.token(**kw)), self.scopes_any)

    def test_first_present_scope_claim_wins(self):
        for name, kw in (
            ("scope present without a match, scp granting", {"scope": "openid", "scp": [WRITE_CONTACTS]}),
            ("scope an empty array, scp granting", {"scope": [], "scp": [WRITE_CONTACTS]}),
        ):
            with self.subTest(name):
                self.assertForbidden(self.post(self.token(**kw)), self.scopes_any)


class TestScopeClaimsOrder(ScopeCase):
    auth = {"scope_claims": ["scp", "scope"]}

    def test_configured_order(self):
        with self.subTest("scp first: scp without a match wins over a granting scope"):
            self.assertForbidden(self.post(self.token(scope=WRITE_CONTACTS, scp=["openid"])), self.scopes_any)
        with self.subTest("scp absent: scope decides"):
            self.mock.clear()
            self.assertForwarded(self.post(self.token(scope=WRITE_CONTACTS)))
        with self.subTest("scp granting"):
            self.mock.clear()
            self.assertForwarded(self.post(self.token(scope="openid", scp=[WRITE_CONTACTS])))


class TestSeedScopes(ScopeCase):
    @classmethod
    def route_scopes(cls):
        return hg.seed_scopes()  # the shipped literal list, in the seed's order

    def test_each_seed_scope_passes_alone(self):
        self.assertEqual(len(self.scopes_any), 65)
        self.assertIn("tickets", self.scopes_any)
        for scope in self.scopes_any:
            with self.subTest(scope):
                self.mock.clear()
                self.assertForwarded(self.post(self.token(scope=scope)))

    def test_none_of_them(self):
        token = self.token(scope="crm.objects.contacts crm.schemas.contacts.write tickets.read crm.objects.goals")
        self.assertForbidden(self.post(token), self.scopes_any)


class TestStrictTemplate(ScopeCase):
    """The template conf/strict.yaml ships: the write scope of the source object type."""

    scopes_any = ["crm.objects.{fromObjectType}.write"]

    def test_source_types_write_scope(self):
        fwd = "/crm/v4/associations/%s/%s/batch/associate/default"
        for name, f, t, scope, canonical in (
            ("contacts -> companies", "contacts", "companies", WRITE_CONTACTS, ("0-1", "0-2")),
            ("companies -> contacts", "companies", "contacts", "crm.objects.companies.write", ("0-2", "0-1")),
            ("2-123 -> contacts", "2-123", "contacts", "crm.objects.custom.write", ("2-123", "0-1")),
            ("line_items -> deals", "line_item", "deals", "crm.objects.line_items.write", ("0-8", "0-3")),
        ):
            with self.subTest(name):
                self.mock.clear()
                self.assertForwarded(self.post(self.token(scope=scope), path=hg.endpoint(f, t)), path=fwd % canonical)

    def test_other_scopes_refused(self):
        for name, f, t, scope, required in (
            ("contacts -> companies with the target's write", "contacts", "companies", "crm.objects.companies.write",
             [WRITE_CONTACTS]),
            ("contacts -> companies with contacts' read", "contacts", "companies", "crm.objects.contacts.read",
             [WRITE_CONTACTS]),
            ("2-123 -> contacts with the id as name", "2-123", "contacts", "crm.objects.2-123.write crm.objects.contacts.write",
             ["crm.objects.custom.write"]),
            ("tasks (no scope name) -> contacts", "tasks", "contacts",
             "crm.objects.tasks.write crm.objects..write crm.objects.{fromObjectType}.write " + WRITE_CONTACTS, []),
            ("0-49 emails (no scope name) -> contacts", "0-49", "0-1", "crm.objects.emails.write crm.objects.custom.write", []),
        ):
            with self.subTest(name):
                self.assertForbidden(self.post(self.token(scope=scope), path=hg.endpoint(f, t)), required)


class TestScopeTemplates(ScopeCase):
    """Both templates in one list: each entry expands with its own object type."""

    scopes_any = ["crm.objects.{fromObjectType}.write", "crm.objects.{toObjectType}.read"]

    def path(self, f, t):
        return hg.endpoint(f, t)

    def test_expanded_per_object_type(self):
        fwd = "/crm/v4/associations/%s/%s/batch/associate/default"
        for name, f, t, scope, canonical in (
            ("contacts -> companies, from's write", "contacts", "companies", WRITE_CONTACTS, ("0-1", "0-2")),
            ("CONTACTS -> company, from's write", "CONTACTS", "company", WRITE_CONTACTS, ("0-1", "0-2")),
            ("contacts -> companies, to's read", "contacts", "companies", "crm.objects.companies.read", ("0-1", "0-2")),
            ("2-123 -> contacts, custom write", "2-123", "contacts", "crm.objects.custom.write", ("2-123", "0-1")),
            ("deals -> 2-7, custom read", "0-3", "2-7", "crm.objects.custom.read", ("0-3", "2-7")),
            ("tasks -> contacts, to's read", "tasks", "contacts", "crm.objects.contacts.read", ("0-27", "0-1")),
        ):
            with self.subTest(name):
                self.mock.clear()
                self.assertForwarded(self.post(self.token(scope=scope), path=self.path(f, t)), path=fwd % canonical)

    def test_refused_with_the_expanded_scopes(self):
        nonsense = "crm.objects.tasks.write crm.objects..write crm.objects.null.write crm.objects.{fromObjectType}.write"
        for name, f, t, scope, required in (
            ("contacts -> companies with companies' write", "contacts", "companies", "crm.objects.companies.write",
             [WRITE_CONTACTS, "crm.objects.companies.read"]),
            ("contacts -> companies with the template itself", "contacts", "companies", "crm.objects.{fromObjectType}.write",
             [WRITE_CONTACTS, "crm.objects.companies.read"]),
            ("2-123 -> contacts with the id as name", "2-123", "0-1", "crm.objects.2-123.write crm.objects.0-1.read",
             ["crm.objects.custom.write", "crm.objects.contacts.read"]),
            ("tasks -> contacts, from has no scope name", "tasks", "contacts", nonsense, ["crm.objects.contacts.read"]),
            ("0-27 -> 0-46, neither has a scope name", "0-27", "0-46", nonsense + " crm.objects.notes.read", []),
            ("unknown 0-999 -> companies", "0-999", "companies", "crm.objects.0-999.write crm.objects..write",
             ["crm.objects.companies.read"]),
        ):
            with self.subTest(name):
                self.assertForbidden(self.post(self.token(scope=scope), path=self.path(f, t)), required)


class TestTwoAuthorizationHeaders(GatewayCase):
    """Kept apart from the matrix: a gateway that fails here must not take the matrix down with it."""

    @classmethod
    def config(cls):
        cls.key = make_key("RS256", "k1", rsa_slot=0)
        return cls.base_config([cls.key])

    def test_refused_and_the_gateway_keeps_serving(self):
        for name, second in (("two valid bearer tokens", "Bearer "), ("a bearer token and Basic", "Basic ")):
            with self.subTest(name):
                self.mock.clear()
                t1, t2 = (hg.mint("RS256", self.key, hg.claims(jti=jti())) for _ in range(2))
                r = self.post(headers=[("Authorization", "Bearer " + t1), ("Authorization", second + t2)])
                self.assertUnauthorized(r, "more than one Authorization header", sent=[t1, t2])
                ok = hg.mint("RS256", self.key, hg.claims(jti=jti()))
                self.assertForwarded(self.post(ok), sent=ok)
                self.assertTrue(self.gw.alive(), self.gw.stderr())


# ---------------------------------------------------------------------------
# key sources


class TestJwksFile(GatewayCase):
    @classmethod
    def config(cls):
        cls.f1 = make_key("RS256", "f1", rsa_slot=0)
        cls.f2 = make_key("EdDSA", "f2")
        cls.f3 = make_key("ES256", "f3")
        d = hg.new_dir("jwks")
        path = os.path.join(d, "idp.jwks.json")
        doc = {"keys": [cls.f1.jwk(), cls.f2.jwk(alg=False), cls.f3.jwk()]}
        hg.write_file(path, json.dumps(doc))
        cfg = cls.base_config([])
        cfg["auth"]["issuers"][0]["keys"] = [{"jwks_file": path, "algs": ["RS256", "EdDSA"]}]
        return cfg

    def test_keys_of_the_file(self):
        for alg, key in (("RS256", self.f1), ("EdDSA", self.f2)):
            with self.subTest(alg):
                self.mock.clear()
                token = hg.mint(alg, key, hg.claims(jti=jti()))
                self.assertForwarded(self.post(token), sent=token)

    def test_algs_limit_the_file(self):
        with self.subTest("ES256 key of the file, ES256 not in algs"):
            token = hg.mint("ES256", self.f3, hg.claims(jti=jti()))
            self.assertUnauthorized(self.post(token), "unknown key id 'f3'", sent=[token])
        with self.subTest("PS256 with the RS256 key"):
            token = hg.mint("PS256", self.f1, hg.claims(jti=jti()))
            self.assertUnauthorized(self.post(token), "algorithm PS256 not allowed for key f1", sent=[token])


class JwksUrlCase(unittest.TestCase):
    """A mock, a JWKS server and gateways whose issuer takes its keys from the server's URL."""

    def setUp(self):
        self.upstream_token = "pat-na1-" + secrets.token_hex(16)
        self.mock = hg.Mock()
        self.addCleanup(self.mock.stop)
        self.jwks = JwksServer()
        self.addCleanup(self.jwks.stop)
        self.sent = set()

    def start_gateway(self, refresh_s, wait_ready=True):
        cfg = hg.gateway_config(self.mock.url, [], upstream_token=self.upstream_token)
        cfg["auth"]["issuers"][0]["keys"] = [{"jwks_url": self.jwks.url, "algs": ["RS256", "ES256"], "refresh_s": refresh_s}]
        gw = hg.Gateway(cfg, wait_ready=wait_ready)
        self.addCleanup(self.check_gateway, gw)
        return gw

    def check_gateway(self, gw):
        self.assertEqual(gw.stop(), 0, gw.stderr())
        self.assertEqual(leaks(gw, self.sent | {self.upstream_token}), [])

    def post(self, gw, token):
        self.sent.update(secret_pieces(token))
        return gw.request("POST", hg.endpoint(), hg.bearer(token), BODY)

    def status_of(self, gw, key):
        """Status of a fresh (uncached) token signed by key."""
        return self.post(gw, hg.mint(key.alg, key, hg.claims(jti=jti()))).status

    def readyz(self, gw):
        try:
            return gw.admin("GET", "/readyz", timeout=2)
        except OSError:
            return None


class TestJwksUrlReadiness(JwksUrlCase):
    def test_readyz_503_until_the_first_fetch(self):
        a = make_key("ES256", "a")
        self.jwks.set_keys([a])
        gw = self.start_gateway(refresh_s=300, wait_ready=False)
        r = hg.wait_until(lambda: self.readyz(gw), what="the admin listener")
        self.assertEqual(r.status, 503, r)
        self.assertIn("signing keys not loaded", r.text)
        self.assertEqual(gw.admin("GET", "/healthz").status, 200)
        self.jwks.start()
        hg.wait_until(lambda: (lambda x: x is not None and x.status == 200)(self.readyz(gw)), what="/readyz 200")
        self.assertGreaterEqual(self.jwks.count("hits"), 1)
        token = hg.mint("ES256", a, hg.claims(jti=jti()))
        r = self.post(gw, token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.mock.last_request()["headers"].get("authorization"), "Bearer " + self.upstream_token)


class TestJwksUrlRotation(JwksUrlCase):
    def test_new_key_is_fetched_on_its_unknown_kid(self):
        a, b = make_key("RS256", "a", rsa_slot=0), make_key("ES256", "b")
        self.jwks.set_keys([a])
        self.jwks.start()
        gw = self.start_gateway(refresh_s=300)
        self.assertEqual(self.status_of(gw, a), 200)
        hits = self.jwks.count("hits")
        self.jwks.set_keys([a, b])
        token = hg.mint("ES256", b, hg.claims(jti=jti()))
        r = self.post(gw, token)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers["WWW-Authenticate"], www_invalid("unknown key id 'b'"))
        hg.wait_until(lambda: self.post(gw, token).status == 200, what="the new key b accepted")
        self.assertEqual(self.jwks.count("hits"), hits + 1)  # one refetch, not one per request
        self.assertEqual(self.status_of(gw, a), 200)

    def test_removed_key_is_refused_after_refresh(self):
        a, b = make_key("RS256", "a", rsa_slot=0), make_key("ES256", "b")
        self.jwks.set_keys([a, b])
        self.jwks.start()
        gw = self.start_gateway(refresh_s=REFRESH_S)
        cached = hg.mint("RS256", a, hg.claims(jti=jti()))
        self.assertEqual(self.post(gw, cached).status, 200)
        self.assertEqual(self.post(gw, cached).status, 200)  # now in the verified-token cache
        hits = self.jwks.count("hits")

        self.jwks.set_keys([b])
        r = hg.wait_until(lambda: (lambda x: x if x.status != 200 else None)(self.post(gw, cached)),
                          timeout=REFRESH_S + hg.TIMEOUT, what="key a refused after a refresh")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers["WWW-Authenticate"], www_invalid("unknown key id 'a'"))
        self.assertGreater(self.jwks.count("hits"), hits)
        self.assertEqual(self.status_of(gw, a), 401)
        self.assertEqual(self.status_of(gw, b), 200)

    def test_last_good_set_survives_a_failing_server(self):
        b = make_key("ES256", "b")
        self.jwks.set_keys([b])
        self.jwks.start()
        gw = self.start_gateway(refresh_s=REFRESH_S)
        self.assertEqual(self.status_of(gw, b), 200)

        self.assertEqual(metric(gw, "hubgate_jwks_fetch_failures_total"), 0)
        fetches = metric(gw, "hubgate_jwks_fetches_total")
        self.assertGreaterEqual(fetches, 1)
        self.jwks.set_status(503)  # failing answers: the set fetched last stays
        unknown = hg.mint("ES256", make_key("ES256", "zz"), hg.claims(jti=jti()))
        r = self.post(gw, unknown)  # an unknown kid makes the gateway refetch now
        self.assertEqual((r.status, r.headers["WWW-Authenticate"]), (401, www_invalid("unknown key id 'zz'")))
        hg.wait_until(lambda: self.jwks.count("failures") >= 1, what="a failed JWKS fetch")
        self.assertEqual(self.status_of(gw, b), 200)
        hg.wait_until(lambda: self.jwks.count("failures") >= 2, what="a second failed JWKS fetch (retry)")
        self.assertEqual(self.status_of(gw, b), 200)
        # ops see the failing URL in /metrics even though requests keep passing
        hg.wait_until(lambda: metric(gw, "hubgate_jwks_fetch_failures_total") >= 2, what="failures in /metrics")
        self.assertGreater(metric(gw, "hubgate_jwks_fetches_total"), fetches)

        self.jwks.down()  # no answer at all
        hg.wait_until(lambda: self.jwks.count("resets") >= 1, what="a JWKS fetch on a dead server")
        self.assertEqual(self.status_of(gw, b), 200)
        self.assertEqual(self.post(gw, unknown).status, 401)
        self.assertEqual(gw.admin("GET", "/readyz").status, 200)


# ---------------------------------------------------------------------------
# verified-token cache


class TestTokenCache(GatewayCase):
    @classmethod
    def config(cls):
        cls.key = make_key("PS256", "c1", rsa_slot=0)
        return cls.base_config([cls.key], auth={"leeway_s": 0})

    def test_repeated_token_is_a_hit(self):
        token = hg.mint("PS256", self.key, hg.claims(jti=jti()))
        hits0 = metric(self.gw, "hubgate_jwt_cache_hits_total")
        misses0 = metric(self.gw, "hubgate_jwt_cache_misses_total")
        self.assertForwarded(self.post(token))
        self.assertEqual(metric(self.gw, "hubgate_jwt_cache_misses_total"), misses0 + 1)
        self.assertEqual(metric(self.gw, "hubgate_jwt_cache_hits_total"), hits0)
        for i in range(3):
            self.assertForwarded(self.post(token))
        self.assertEqual(metric(self.gw, "hubgate_jwt_cache_hits_total"), hits0 + 3)
        self.assertEqual(metric(self.gw, "hubgate_jwt_cache_misses_total"), misses0 + 1)

    def test_cached_token_is_refused_once_expired(self):
        exp = now() + 2
        token = hg.mint("PS256", self.key, hg.claims(jti=jti(), exp=exp))
        self.assertForwarded(self.post(token))
        hits = metric(self.gw, "hubgate_jwt_cache_hits_total")
        self.assertForwarded(self.post(token))
        self.assertEqual(metric(self.gw, "hubgate_jwt_cache_hits_total"), hits + 1)
        hg.wait_until(lambda: time.time() >= exp + 0.05, timeout=10, what="the token's exp")
        self.mock.clear()
        self.assertUnauthorized(self.post(token), "token expired", sent=[token])


# ---------------------------------------------------------------------------
# passthrough


class TestPassthrough(GatewayCase):
    @classmethod
    def config(cls):
        cls.key = make_key("RS512", "p1", rsa_slot=0)
        cfg = cls.base_config([cls.key])
        cfg["upstream"]["credential"] = {"mode": "passthrough"}
        return cfg

    def test_client_header_forwarded_unchanged(self):
        for scheme in ("Bearer", "bearer"):
            with self.subTest(scheme):
                self.mock.clear()
                token = hg.mint("RS512", self.key, hg.claims(jti=jti()))
                r = self.post(headers=[("Authorization", "%s %s" % (scheme, token))])
                self.assertEqual(r.status, 200, r)
                rec = self.mock.last_request()
                self.assertEqual(rec["headers"].get_all("authorization"), ["%s %s" % (scheme, token)])
                self.assertNotIn(self.upstream_token, json.dumps(rec["header_pairs"]))

    def test_refusal_still_reaches_nothing(self):
        token = hg.mint("RS512", self.key, hg.claims(jti=jti(), aud="other"))
        self.assertUnauthorized(self.post(token), "audience not accepted", sent=[token])


# ---------------------------------------------------------------------------
# nothing secret in logs or the audit store


class TestSecretsNeverLogged(unittest.TestCase):
    def test_tokens_secrets_and_upstream_token_never_written(self):
        upstream_token = "pat-na1-" + secrets.token_hex(16)
        mock = hg.Mock()
        self.addCleanup(mock.stop)
        hs, rs = make_key("HS512", "h5"), make_key("RS256", "r1", rsa_slot=0)
        cfg = hg.gateway_config(mock.url, [hs, rs], upstream_token=upstream_token,
                                audit={"sqlite": "$dir/audit.db", "jsonl": "$dir/audit.jsonl"},
                                log={"level": "debug", "access": "$dir/access.log"})
        gw = hg.Gateway(cfg)
        self.addCleanup(gw.stop)
        basic = base64.b64encode(b"svc:" + hs.secret).decode()
        good = [hg.mint("HS512", hs, hg.claims(jti=jti())), hg.mint("RS256", rs, hg.claims(jti=jti()))]
        no_scope = hg.mint("HS512", hs, hg.claims(jti=jti(), scope="openid"))
        bad = [hg.resign(good[0].rsplit(".", 1)[0] + ".x", "HS512", make_key("HS512")),
               good[1][:-4] + "AAAA", hg.mint("HS512", hs, hg.claims(jti=jti(), aud="other"))]
        sent = []

        def post(authz, rid):
            sent.append(rid)
            pairs = [("X-Request-Id", rid)] + [("Authorization", v) for v in authz]
            return gw.request("POST", hg.endpoint(), pairs, BODY)

        statuses = [post(["Bearer " + t], "leak-ok-%d" % i).status for i, t in enumerate(good)]
        statuses += [post(["Bearer " + t], "leak-ok-again-%d" % i).status for i, t in enumerate(good)]  # cache hits
        statuses.append(post(["Bearer " + no_scope], "leak-403").status)
        statuses += [post(["Bearer " + t], "leak-401-%d" % i).status for i, t in enumerate(bad)]
        statuses.append(post(["Basic " + basic], "leak-401-basic").status)
        statuses.append(post(["Bearer %s " % good[0]], "leak-401-space").status)
        self.assertEqual(statuses, [200, 200, 200, 200, 403, 401, 401, 401, 401, 401])
        self.assertEqual(gw.stop(), 0, gw.stderr())

        outputs = dict(gateway_outputs(gw))
        for name in ("stderr.log", "access.log", "audit.jsonl", "audit.db"):
            self.assertIn(name, outputs)
        for rid in sent:  # the files checked are the ones that recorded these requests
            for name in ("access.log", "audit.jsonl"):
                self.assertIn(rid.encode(), outputs[name], name)
            self.assertTrue(any(rid.encode() in data for name, data in outputs.items() if name.startswith("audit.db")), rid)
        needles = {upstream_token, hs.secret, basic, hs.secret.decode(), hg.b64url(hs.secret)}
        for t in good + bad + [no_scope]:
            needles |= secret_pieces(t)
        self.assertEqual(leaks(gw, needles), [])


if __name__ == "__main__":
    hg.main(requires=("crypto", "mock", "hubgate"))
