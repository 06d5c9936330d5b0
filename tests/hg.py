"""hg.py: the harness of hubgate's integration tests (tests/test_*.py).

It starts the programs under test as real processes on loopback ports and
talks HTTP to them, so a test reads like what a client and an ops team see:
- paths from the environment the Makefile exports (HUBGATE_SRCDIR, HUBGATE_BUILDDIR,
  HUBGATE_SHARED, OPENSSL);
- Mock: tests/mock_hubspot (the HubSpot stand-in), cleartext or TLS, with the
  requests it recorded;
- Gateway: hubgate with a configuration written from a dict or a text, started,
  waited for (admin /readyz, else a request to its port), signalled and stopped;
- request() over http.client and curl_request() over the curl CLI (h2c, h2 over
  TLS), both returning a Response(status, headers, body, json);
- test PKI (tests/pki.sh, once per run) and JOSE keys and tokens
  (python3-cryptography): mint() for every algorithm hubgate accepts and raw
  helpers for hostile tokens;
- main(): runs the unittest cases of the calling module, prints
  "N passed, N failed[, N skipped]" and exits 0, 1, or 77 (prerequisite missing).

Standard library plus Debian's python3-cryptography; run with /usr/bin/python3.
Every process a test starts is stopped at exit, even when the test fails.
"""

import atexit
import base64
import hashlib
import hmac as _hmac
import http.client
import json as _json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    HAVE_CRYPTO = True
except ImportError:  # the tests that need it exit 77 through main(requires=...)
    HAVE_CRYPTO = False

# ---------------------------------------------------------------------------
# paths

SRCDIR = os.environ.get("HUBGATE_SRCDIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILDDIR = os.environ.get("HUBGATE_BUILDDIR") or SRCDIR
SHARED = os.environ.get("HUBGATE_SHARED") or os.path.join(SRCDIR, "..", "shared")
OPENSSL = os.environ.get("OPENSSL") or shutil.which("openssl") or "openssl"
HUBGATE = os.path.join(BUILDDIR, "hubgate")
MOCK_BIN = os.path.join(BUILDDIR, "tests", "mock_hubspot")
PKI_SH = os.path.join(SRCDIR, "tests", "pki.sh")
CURL = shutil.which("curl")

#: default timeout (seconds) of every wait in this module
TIMEOUT = float(os.environ.get("HG_TIMEOUT", "15"))

#: the endpoint hubgate exists for
ENDPOINT = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default"

#: magic from ids of the mock (see tests/mock_hubspot.c); ids not starting with 99 are ordinary
MAGIC = {
    "slow": "99000",  # answer after --slow-ms
    "hang": "99001",  # never answer
    "pending": "99202",  # 202, status PENDING
    "omit": "99204",  # prefix: input left out of results (200)
    "fail": "99207",  # prefix: input goes to errors[] (207)
    "401": "99401",
    "403": "99403",
    "429": "99429",  # policyName SECONDLY
    "429-daily": "994291",
    "429-ten-secondly": "994292",
    "400": "99400",
    "404": "99404",
    "500": "99500",
    "502": "99502",
    "503": "99503",
    "504": "99504",
}


def endpoint(from_type="0-1", to_type="0-2"):
    """The path of batch/associate/default for two object types."""
    return "/crm/v4/associations/%s/%s/batch/associate/default" % (from_type, to_type)


def inputs_body(*pairs):
    """{"inputs":[{"from":{"id":a},"to":{"id":b}}...]} from (a, b) pairs (values kept as given)."""
    return {"inputs": [{"from": {"id": a}, "to": {"id": b}} for a, b in pairs]}


# ---------------------------------------------------------------------------
# temporary files: one directory per test run, removed at exit unless HG_KEEP=1

_run_dir = None


def run_dir():
    """The temporary directory of this test run (created on first use)."""
    global _run_dir
    if _run_dir is None:
        _run_dir = tempfile.mkdtemp(prefix="hg-")
        if os.environ.get("HG_KEEP") != "1":
            atexit.register(shutil.rmtree, _run_dir, True)
    return _run_dir


def new_dir(prefix):
    """A new directory inside run_dir()."""
    return tempfile.mkdtemp(prefix=prefix + "-", dir=run_dir())


def write_file(path, content, mode=0o644):
    """Writes str (UTF-8) or bytes to path; returns path."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with open(path, "wb") as fp:
        fp.write(data)
    os.chmod(path, mode)
    return path


class PKI:
    """Paths of the files tests/pki.sh makes (attributes: ca, ca_key, upstream, upstream_key,
    wrong_host, wrong_host_key, other_ca, other_ca_key, other, other_key, dir)."""

    def __init__(self, d):
        self.dir = d
        for name in ("ca", "upstream", "wrong-host", "other-ca", "other"):
            attr = name.replace("-", "_")
            setattr(self, attr, os.path.join(d, name + ".crt"))
            setattr(self, attr + "_key", os.path.join(d, name + ".key"))


_pki = None


def pki():
    """Runs tests/pki.sh once per test run (or uses $HG_PKI_DIR) and returns a PKI."""
    global _pki
    if _pki is None:
        d = os.environ.get("HG_PKI_DIR") or os.path.join(run_dir(), "pki")
        env = dict(os.environ, OPENSSL=OPENSSL)
        r = subprocess.run(["/bin/sh", PKI_SH, d], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("pki.sh failed: %s" % r.stderr.decode("utf-8", "replace"))
        _pki = PKI(d)
    return _pki


def free_port():
    """A port that was free a moment ago (bind to port 0; a small race remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# HTTP


class Headers:
    """Case-insensitive multi-dict of response headers, in received order."""

    def __init__(self, pairs=()):
        self.pairs = [(str(k), str(v)) for k, v in pairs]

    def get_all(self, name):
        n = name.lower()
        return [v for k, v in self.pairs if k.lower() == n]

    def get(self, name, default=None):
        values = self.get_all(name)
        return values[0] if values else default

    def __getitem__(self, name):
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return values[0]

    def __contains__(self, name):
        return bool(self.get_all(name))

    def __iter__(self):
        return iter(self.pairs)

    def __len__(self):
        return len(self.pairs)

    def names(self):
        return [k.lower() for k, _ in self.pairs]

    def __repr__(self):
        return "Headers(%r)" % (self.pairs,)


class Response:
    """status (int), headers (Headers), body (bytes), json (parsed body or None), http_version
    ("1.1", "2"). Unpacks as (status, headers, body, json)."""

    def __init__(self, status, headers, body, http_version="1.1"):
        self.status = status
        self.headers = headers
        self.body = body
        self.http_version = http_version
        try:
            self.json = _json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            self.json = None

    def __iter__(self):
        return iter((self.status, self.headers, self.body, self.json))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "Response(%d, %r, %r)" % (self.status, self.headers, self.body[:300])


def _encode_body(body, given, extra):
    """body as bytes; adds Content-Type application/json to extra for a dict/list body unless
    the given header pairs have one."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if not any(k.lower() == "content-type" for k, _ in given):
        extra["Content-Type"] = "application/json"
    return _json.dumps(body, separators=(",", ":")).encode("utf-8")


def ssl_context(cafile=None, verify=True, tls_max=None, alpn=None):
    """A client SSLContext trusting cafile (default: the test CA when verify)."""
    ctx = ssl.create_default_context(cafile=cafile or (pki().ca if verify else None))
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls_max is not None:
        ctx.maximum_version = tls_max
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def _header_items(headers):
    if headers is None:
        return []
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


class Client:
    """One persistent HTTP/1.1 connection (keep-alive), for tests about connection reuse."""

    def __init__(self, url, timeout=TIMEOUT, context=None, cafile=None):
        u = urllib.parse.urlsplit(url)
        self.base = u
        if u.scheme == "https":
            ctx = context or ssl_context(cafile)
            self.conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=ctx)
        else:
            self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None):
        """Like request(), on this connection; path may be a full URL of the same origin."""
        if "://" in path:
            u = urllib.parse.urlsplit(path)
            path = u.path + ("?" + u.query if u.query else "")
        items = _header_items(headers)
        hdrs = {}
        data = _encode_body(body, items, hdrs)
        self.conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in hdrs.items():
            self.conn.putheader(k, v)
        for k, v in items:
            self.conn.putheader(k, v)
        if data is not None and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in items):
            self.conn.putheader("Content-Length", str(len(data)))
        self.conn.endheaders(data)
        r = self.conn.getresponse()
        body = r.read()
        return Response(r.status, Headers(r.getheaders()), body, "1.1" if r.version == 11 else "1.0")

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def request(method, url, headers=None, body=None, timeout=TIMEOUT, context=None, cafile=None):
    """One HTTP/1.1 request on a new connection. headers: dict or list of pairs (repeats allowed);
    body: bytes, str, or a dict/list sent as compact JSON (Content-Type application/json unless
    given). https URLs trust the test CA unless context/cafile say otherwise."""
    with Client(url, timeout=timeout, context=context, cafile=cafile) as c:
        u = urllib.parse.urlsplit(url)
        return c.request(method, (u.path or "/") + ("?" + u.query if u.query else ""), headers, body)


def _parse_header_dump(text):
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
    status, version, pairs = 0, "", []
    for block in blocks:  # the last block is the final answer (skips 100 Continue)
        lines = block.splitlines()
        m = re.match(r"HTTP/([\d.]+) (\d{3})", lines[0])
        if not m:
            continue
        version, status = m.group(1), int(m.group(2))
        pairs = []
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                pairs.append((k.strip(), v.strip()))
    return status, version, Headers(pairs)


def curl_request(method, url, headers=None, body=None, http2=True, timeout=TIMEOUT, cafile=None, extra=()):
    """A request through the curl CLI: h2c with prior knowledge for http:// URLs, h2 by ALPN for
    https:// (trusting the test CA unless cafile); http2=False: HTTP/1.1. Same Response shape."""
    if CURL is None:
        raise unittest.SkipTest("curl not installed")
    d = new_dir("curl")
    hdr_path, body_path = os.path.join(d, "headers"), os.path.join(d, "body")
    items = _header_items(headers)
    hdrs = {}
    data = _encode_body(body, items, hdrs)
    argv = [CURL, "-sS", "-X", method, "-D", hdr_path, "-o", body_path, "--max-time", str(timeout), "-w", "%{http_version}"]
    if url.startswith("https:"):
        argv += ["--cacert", cafile or pki().ca]
        argv += ["--http2"] if http2 else ["--http1.1"]
    else:
        argv += ["--http2-prior-knowledge"] if http2 else ["--http1.1"]
    for k, v in list(hdrs.items()) + items:
        argv += ["-H", "%s: %s" % (k, v)]
    if data is not None:
        write_file(os.path.join(d, "req"), data)
        argv += ["--data-binary", "@" + os.path.join(d, "req")]
    argv += list(extra) + [url]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 5)
    if r.returncode != 0:
        raise ConnectionError("curl exit %d: %s" % (r.returncode, r.stderr.decode("utf-8", "replace").strip()))
    with open(hdr_path, "r", encoding="latin-1") as fp:
        status, version, hdrs_out = _parse_header_dump(fp.read())
    with open(body_path, "rb") as fp:
        out = fp.read()
    shutil.rmtree(d, True)
    return Response(status, hdrs_out, out, r.stdout.decode().strip() or version)


def wait_until(predicate, timeout=TIMEOUT, interval=0.01, what="condition"):
    """Polls predicate() until it returns a true value (returned); AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)
        interval = min(interval * 2, 0.1)


# ---------------------------------------------------------------------------
# processes

_live = set()


def _stop_all():
    for p in list(_live):
        try:
            p.stop()
        except Exception:
            pass


atexit.register(_stop_all)


class Mock:
    """tests/mock_hubspot as a process. tls=True serves HTTPS with pki().upstream (plus a
    cleartext control listener for requests()/clear()); tls13_only / tls12_only pin the version.
    Attributes: port, url (the upstream URL to give hubgate), control_url, proc."""

    def __init__(self, tls=False, tls13_only=False, tls12_only=False, expect_token=None, slow_ms=None, threads=None,
                 record_limit=None, cert=None, key=None, args=(), start=True):
        self.tls = tls
        argv = [MOCK_BIN, "--listen", "127.0.0.1:0"]
        if tls:
            p = pki()
            argv += ["--tls-cert", cert or p.upstream, "--tls-key", key or p.upstream_key, "--listen-http", "127.0.0.1:0"]
        if tls13_only:
            argv.append("--tls13-only")
        if tls12_only:
            argv.append("--tls12-only")
        if expect_token is not None:
            argv += ["--expect-token", expect_token]
        if slow_ms is not None:
            argv += ["--slow-ms", str(slow_ms)]
        if threads is not None:
            argv += ["--threads", str(threads)]
        if record_limit is not None:
            argv += ["--record-limit", str(record_limit)]
        self.argv = argv + list(args)
        self.proc = None
        self.returncode = None
        if start:
            self.start()

    def start(self):
        d = new_dir("mock")
        self.stderr_path = os.path.join(d, "stderr.log")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self._stderr)
        _live.add(self)
        want = 2 if self.tls else 1
        ports, buf = [], b""
        deadline = time.monotonic() + TIMEOUT
        while len(ports) < want:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("mock did not start: %s" % self.stderr())
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    continue
                buf += chunk
                ports = [int(p) for p in re.findall(rb"^listening on 127\.0\.0\.1:(\d+)$", buf, re.M)]
        self.port = ports[0]
        self.control_port = ports[1] if self.tls else ports[0]
        self.url = "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)
        self.control_url = "http://127.0.0.1:%d" % self.control_port
        wait_until(lambda: self._healthy(), what="mock /__mock/health")
        return self

    def _healthy(self):
        try:
            return request("GET", self.control_url + "/__mock/health", timeout=2).status == 200
        except OSError:
            return False

    def stderr(self):
        with open(self.stderr_path, "rb") as fp:
            return fp.read().decode("utf-8", "replace")

    def requests(self):
        """Every request the mock recorded, oldest first (see mock_hubspot --help for the fields);
        each record's "headers" is a Headers, the raw pairs stay in "header_pairs"."""
        r = request("GET", self.control_url + "/__mock/requests")
        assert r.status == 200, r
        for rec in r.json:
            rec["header_pairs"] = rec["headers"]
            rec["headers"] = Headers(rec["headers"])
        return r.json

    def last_request(self):
        reqs = self.requests()
        return reqs[-1] if reqs else None

    def wait_requests(self, n, timeout=TIMEOUT):
        """Waits until at least n requests are recorded; returns them."""
        return wait_until(lambda: (lambda rs: rs if len(rs) >= n else None)(self.requests()), timeout,
                          what="%d mock requests" % n)

    def clear(self):
        r = request("DELETE", self.control_url + "/__mock/requests")
        assert r.status == 200, r
        return r.json["cleared"]

    def stats(self):
        return request("GET", self.control_url + "/__mock/stats").json

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        """Signals the mock by PID and waits; returns its exit code (0 on a clean exit)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        self.proc.stdout.close()
        self._stderr.close()
        self.proc = None
        _live.discard(self)
        return self.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _yaml_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return _json.dumps(str(v), ensure_ascii=False)


def _yaml_key(k):
    k = str(k)
    return k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", k) else _json.dumps(k, ensure_ascii=False)


def to_yaml(obj, indent=0):
    """Block-style YAML of a dict/list/scalar tree (strings double-quoted, so "$port" survives)."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        out = []
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:\n%s" % (pad, _yaml_key(k), to_yaml(v, indent + 1)))
            else:
                out.append("%s%s: %s\n" % (pad, _yaml_key(k), to_yaml(v, 0).strip()))
        return "".join(out)
    if isinstance(obj, list):
        if not obj:
            return pad + "[]\n"
        out = []
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                inner = to_yaml(v, indent + 1)
                out.append("%s- %s" % (pad, inner[len(pad) + 2:]))
            else:
                out.append("%s- %s\n" % (pad, to_yaml(v, 0).strip()))
        return "".join(out)
    return pad + _yaml_scalar(obj) + "\n"


def gateway_env(env=None):
    """The environment for a hubgate process. Under LeakSanitizer, allocations made inside libh2o
    are not leak-checked (tests/lsan.supp: h2o 2.2.5 keeps per-thread buffer caches that nothing
    frees when an event-loop thread ends, and worker contexts with linked timers cannot be disposed
    of); every allocation of hubgate's own still is, and a leak fails the test through the exit code."""
    env = dict(os.environ if env is None else env)
    supp = "suppressions=" + os.path.join(SRCDIR, "tests", "lsan.supp")
    env["LSAN_OPTIONS"] = env["LSAN_OPTIONS"] + ":" + supp if env.get("LSAN_OPTIONS") else supp
    return env


class Gateway:
    """hubgate as a process, configured from a dict (written as YAML) or a YAML text.

    Placeholders $port, $port2, $tls_port, $admin_port (free ports, picked when used), $dir (the
    gateway's directory), $srcdir and $pki (the PKI directory) are substituted in the text. A dict
    without "listen" gets ["127.0.0.1:$port"]; without admin.listen it gets "127.0.0.1:$admin_port"
    (write admin: {listen: null} to have none). files: {relative name: str|bytes} written next to
    the configuration. When ports picked here were taken meanwhile, the start is retried.

    Attributes: dir, config_path, stdout_path, stderr_path, port, tls_port, admin_port, url,
    tls_url, admin_url (None when absent), proc."""

    PLACEHOLDERS = ("port", "port2", "tls_port", "admin_port")

    def __init__(self, config, files=None, args=(), env=None, start=True, wait_ready=True):
        self.dir = new_dir("gw")
        self.config_path = os.path.join(self.dir, "hubgate.yaml")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.args = list(args)
        self.env = env
        self.proc = None
        self.returncode = None
        if isinstance(config, dict):
            config = dict(config)
            config.setdefault("listen", ["127.0.0.1:$port"])
            admin = dict(config.get("admin") or {})
            if "listen" not in admin:
                admin["listen"] = "127.0.0.1:$admin_port"
            config["admin"] = admin
            self.template = to_yaml(config)
        else:
            self.template = config
        for name, content in (files or {}).items():
            path = os.path.join(self.dir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_file(path, content, 0o600)
        self._pick_ports()
        if start:
            self.start(wait_ready)

    def _pick_ports(self):
        self.ports = {}
        for name in self.PLACEHOLDERS:
            if re.search(r"\$\{?%s\b" % name, self.template):
                self.ports[name] = free_port()
        self.port = self.ports.get("port")
        self.tls_port = self.ports.get("tls_port")
        self.admin_port = self.ports.get("admin_port")
        self.url = "http://127.0.0.1:%d" % self.port if self.port else None
        self.tls_url = "https://127.0.0.1:%d" % self.tls_port if self.tls_port else None
        self.admin_url = "http://127.0.0.1:%d" % self.admin_port if self.admin_port else None
        values = dict(self.ports, dir=self.dir, srcdir=SRCDIR)
        if "$pki" in self.template or "${pki}" in self.template:
            values["pki"] = pki().dir
        self.config_text = string.Template(self.template).safe_substitute(values)
        write_file(self.config_path, self.config_text)

    def write(self, name, content, mode=0o600):
        """Writes a file into the gateway's directory (keys, tokens, schemas); returns its path."""
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return write_file(path, content, mode)

    def rewrite_config(self, config):
        """Replaces the configuration file (same ports) before a reload(); config: dict or text."""
        text = to_yaml(config) if isinstance(config, dict) else config
        values = dict(self.ports, dir=self.dir, srcdir=SRCDIR)
        if "$pki" in text or "${pki}" in text:
            values["pki"] = pki().dir
        self.config_text = string.Template(text).safe_substitute(values)
        write_file(self.config_path, self.config_text)

    def start(self, wait_ready=True):
        for attempt in range(5):
            self._out = open(self.stdout_path, "ab")
            self._err = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen([HUBGATE, "-c", self.config_path] + self.args, stdout=self._out, stderr=self._err,
                                         cwd=self.dir, env=gateway_env(self.env))
            _live.add(self)
            if not wait_ready:
                return self
            try:
                self.wait_ready()
                return self
            except RuntimeError:
                in_use = "in use" in self.stderr()
                self.stop(signal.SIGKILL)
                if not in_use or not self.ports or attempt == 4:
                    raise
                self._pick_ports()
        return self

    def wait_ready(self, timeout=TIMEOUT):
        """Waits for GET /readyz 200 on the admin listener, else for any HTTP answer on the
        first listen port. RuntimeError (with stderr) when the process exits meanwhile."""
        deadline = time.monotonic() + timeout
        interval = 0.005
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("hubgate exited with %d during start: %s" % (self.proc.returncode, self.stderr()))
            try:
                if self.admin_url is not None:
                    if request("GET", self.admin_url + "/readyz", timeout=2).status == 200:
                        return
                elif self.url is not None:
                    request("GET", self.url + "/__hg_ready", timeout=2)
                    return
                elif self.tls_url is not None:
                    request("GET", self.tls_url + "/__hg_ready", timeout=2)
                    return
                else:
                    raise RuntimeError("no port known to wait on: use $port or $admin_port in the configuration")
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("hubgate not ready after %.1fs: %s" % (timeout, self.stderr()))
            time.sleep(interval)
            interval = min(interval * 2, 0.1)

    def stderr(self):
        with open(self.stderr_path, "rb") as fp:
            return fp.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as fp:
            return fp.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=TIMEOUT, stream="stderr"):
        """Waits until the regex matches stderr (or stdout); returns the match."""
        rx = re.compile(pattern, re.M)
        return wait_until(lambda: rx.search(self.stderr() if stream == "stderr" else self.stdout()), timeout,
                          what="/%s/ in %s" % (pattern, stream))

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        """SIGHUP: reload the policy from the same file."""
        self.send_signal(signal.SIGHUP)

    def reopen_logs(self):
        """SIGUSR1: reopen the log files."""
        self.send_signal(signal.SIGUSR1)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals hubgate by PID and waits; returns its exit code (negative: killed by a signal)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        self._out.close()
        self._err.close()
        self.proc = None
        _live.discard(self)
        return self.returncode

    def request(self, method, path, headers=None, body=None, **kw):
        """request() against the first cleartext listener."""
        return request(method, self.url + path, headers, body, **kw)

    def admin(self, method, path, headers=None, body=None, **kw):
        """request() against the admin listener."""
        return request(method, self.admin_url + path, headers, body, **kw)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def deep_merge(base, over):
    """A copy of base with over merged in (dicts recursively; other values replace)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def seed_scopes():
    """The scopes of HubSpot's reference page (the seed), in its order."""
    path = os.path.join(SHARED, "seed", "hubspot-create-default-associations.txt")
    with open(path, encoding="utf-8") as fp:
        lines = fp.read().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("Diese API erfordert")) + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line.strip())
    return out


def gateway_config(upstream_url, keys, issuer="https://idp.example.internal", audiences=("hubgate",),
                   upstream_token="hubspot-private-app-token", ca_file=None, scopes_any=None, **overrides):
    """A complete configuration dict for Gateway: one cleartext listener ($port), one worker, the
    seed route (literal seed scopes unless scopes_any), upstream_url with an injected token file,
    one issuer with keys (Key objects; their files are written into a new directory), SQLite
    audit in the gateway's directory, admin on $admin_port. overrides are deep-merged (top-level
    keyword arguments: upstream={...}, auth={...}, ...)."""
    d = new_dir("cfg")
    token_file = write_file(os.path.join(d, "upstream.token"), upstream_token + "\n", 0o600)
    cfg = {
        "listen": ["127.0.0.1:$port"],
        "workers": 1,
        "upstream": {"url": upstream_url, "ca_file": ca_file, "credential": {"mode": "inject", "token_file": token_file}},
        "auth": {"issuers": [{"issuer": issuer, "audiences": list(audiences), "keys": [k.config_entry(d) for k in keys]}]},
        "routes": [{"name": "create-default-associations", "method": "POST", "path": ENDPOINT,
                    "scopes_any": list(scopes_any) if scopes_any is not None else seed_scopes(),
                    "schema": os.path.join(SRCDIR, "schemas", "batch-associate-default.request.json"),
                    "normalize": "associations"}],
        "audit": {"sqlite": "$dir/audit.db"},
        "admin": {"listen": "127.0.0.1:$admin_port"},
    }
    return deep_merge(cfg, overrides)


def run_hubgate(args, timeout=TIMEOUT, env=None, cwd=None):
    """Runs hubgate with args (e.g. ["-t", "-c", path]); returns (exit code, stdout, stderr) as text."""
    r = subprocess.run([HUBGATE] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       env=gateway_env(env), cwd=cwd)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# JOSE: keys, JWKS, tokens

_HASH = {"256": "SHA256", "384": "SHA384", "512": "SHA512"}
_CURVES = {"ES256": ("P-256", 32), "ES384": ("P-384", 48), "ES512": ("P-521", 66)}
ALGS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
        "EdDSA")


def b64url(data):
    """base64url without padding of bytes, str (UTF-8) or a dict/list (compact JSON)."""
    if isinstance(data, (dict, list)):
        data = _json.dumps(data, separators=(",", ":")).encode("utf-8")
    elif isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    s = s.encode("ascii") if isinstance(s, str) else s
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def _hash(alg):
    return getattr(hashes, _HASH[alg[2:]])()


def hmac_secret(n):
    """n random bytes that survive hubgate's reading of a secret_file, which trims a trailing newline
    (CR or LF): a secret drawn with one at its end would lose it and be refused as too short."""
    while True:
        secret = os.urandom(n)
        if secret[-1:] not in (b"\n", b"\r"):
            return secret


class Key:
    """A signing key pinned to one JOSE algorithm. Attributes: alg, kid, kty (RSA, EC, OKP, oct),
    private (cryptography key object; bytes for HMAC), secret (HMAC bytes)."""

    def __init__(self, alg, kid=None, private=None, bits=2048):
        if not HAVE_CRYPTO:
            raise unittest.SkipTest("python3-cryptography is not installed")
        self.alg, self.kid = alg, kid
        if alg.startswith("HS"):
            self.kty = "oct"
            self.private = private if private is not None else hmac_secret(int(alg[2:]) // 8)
            self.secret = self.private
        elif alg[:2] in ("RS", "PS"):
            self.kty = "RSA"
            self.private = private or rsa.generate_private_key(public_exponent=65537, key_size=bits)
        elif alg in _CURVES:
            self.kty = "EC"
            curve = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}[_CURVES[alg][0]]
            self.private = private or ec.generate_private_key(curve())
        elif alg == "EdDSA":
            self.kty = "OKP"
            self.private = private or ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError("unknown alg %s" % alg)

    def public_pem(self):
        if self.kty == "oct":
            raise ValueError("an HMAC key has no PEM")
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)

    def private_pem(self):
        if self.kty == "oct":
            raise ValueError("an HMAC key has no PEM")
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())

    def jwk(self, private=False, alg=True):
        """The public JWK (a dict), with kid, alg and use when set."""
        j = {"kty": self.kty}
        if self.kty == "oct":
            j["k"] = b64url(self.secret)
        elif self.kty == "RSA":
            n = self.private.public_key().public_numbers()
            j["n"] = b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big"))
            j["e"] = b64url(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))
        elif self.kty == "EC":
            crv, size = _CURVES[self.alg]
            n = self.private.public_key().public_numbers()
            j.update(crv=crv, x=b64url(n.x.to_bytes(size, "big")), y=b64url(n.y.to_bytes(size, "big")))
        else:
            raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            j.update(crv="Ed25519", x=b64url(raw))
        if self.kid is not None:
            j["kid"] = self.kid
        if alg:
            j["alg"] = self.alg
        j["use"] = "sig"
        return j

    def write(self, directory, name=None):
        """Writes the verification material (public PEM, or the HMAC secret) into directory;
        returns the path."""
        name = name or "%s.%s" % (self.kid or self.alg.lower(), "secret" if self.kty == "oct" else "pub.pem")
        return write_file(os.path.join(directory, name), self.secret if self.kty == "oct" else self.public_pem(), 0o600)

    def config_entry(self, directory, name=None):
        """The auth.issuers[].keys entry of hubgate's configuration, writing the file it names."""
        path = self.write(directory, name)
        entry = {"kid": self.kid} if self.kid is not None else {}
        entry["alg"] = self.alg
        entry["secret_file" if self.kty == "oct" else "pem_file"] = path
        return entry

    def sign(self, signing_input):
        return sign(self.alg, self, signing_input)


def new_key(alg, kid=None, **kw):
    """A fresh Key for alg (RSA 2048, EC P-256/384/521, Ed25519, random HMAC secret)."""
    return Key(alg, kid, **kw)


def write_jwks(path, keys, private=False):
    """Writes {"keys":[...]} of the keys' public JWKs; returns path."""
    return write_file(path, _json.dumps({"keys": [k.jwk(private) for k in keys]}, indent=1))


def sign(alg, key, signing_input):
    """The JWS signature of signing_input (bytes) with alg; key: Key, cryptography key, or HMAC bytes."""
    k = key.private if isinstance(key, Key) else key
    if isinstance(signing_input, str):
        signing_input = signing_input.encode("ascii")
    if alg.startswith("HS"):
        return _hmac.new(k, signing_input, getattr(hashlib, "sha" + alg[2:])).digest()
    if alg.startswith("RS"):
        return k.sign(signing_input, padding.PKCS1v15(), _hash(alg))
    if alg.startswith("PS"):
        h = _hash(alg)
        return k.sign(signing_input, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    if alg in _CURVES:
        r, s = decode_dss_signature(k.sign(signing_input, ec.ECDSA(_hash(alg))))
        size = _CURVES[alg][1]
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "EdDSA":
        return k.sign(signing_input)
    raise ValueError("cannot sign with alg %s" % alg)


def claims(iss="https://idp.example.internal", aud="hubgate", sub="svc-test", scope="crm.objects.contacts.write", ttl=300,
           **extra):
    """Typical access-token claims (iat now, exp now+ttl); None values are left out."""
    now = int(time.time())
    c = {"iss": iss, "aud": aud, "sub": sub, "scope": scope, "iat": now, "exp": now + ttl}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def mint(alg, key, claims_, header_overrides=None, typ="JWT"):
    """A signed compact JWS. The header is {"alg", "typ" (unless typ=None), "kid" (when key has
    one)} updated with header_overrides (a None value removes the field); the signature is made
    with alg (not with a header override: sign with one alg, claim another)."""
    header = {"alg": alg}
    if typ is not None:
        header["typ"] = typ
    if isinstance(key, Key) and key.kid is not None:
        header["kid"] = key.kid
    for k, v in (header_overrides or {}).items():
        if v is None:
            header.pop(k, None)
        else:
            header[k] = v
    signing_input = b64url(header) + "." + b64url(claims_)
    return signing_input + "." + b64url(sign(alg, key, signing_input))


def raw_token(header, payload, signature=b""):
    """A compact token from arbitrary segments: a dict/list is JSON-encoded then base64url,
    bytes are base64url-encoded, a str is used verbatim (so broken base64 can be sent)."""

    def seg(x):
        return x if isinstance(x, str) else b64url(x)

    return ".".join((seg(header), seg(payload), seg(signature)))


def resign(token, alg, key):
    """Signs a token's own header.payload again (after tampering with raw segments)."""
    h, p, _ = token.split(".")
    return h + "." + p + "." + b64url(sign(alg, key, h + "." + p))


def decode_segments(token):
    """(header dict, payload dict, signature bytes) of a compact token."""
    h, p, s = token.split(".")
    return _json.loads(b64url_decode(h)), _json.loads(b64url_decode(p)), b64url_decode(s)


def bearer(token):
    return {"Authorization": "Bearer " + token}


# ---------------------------------------------------------------------------
# runner

REQUIREMENTS = {
    "crypto": (lambda: HAVE_CRYPTO, "python3-cryptography is not installed (apt-get install python3-cryptography)"),
    "mock": (lambda: os.access(MOCK_BIN, os.X_OK), "%s is not built (make tests/mock_hubspot)" % MOCK_BIN),
    "hubgate": (lambda: os.access(HUBGATE, os.X_OK), "%s is not built" % HUBGATE),
    "curl": (lambda: CURL is not None, "curl is not installed"),
    "curl-http2": (lambda: CURL is not None and b"HTTP2" in subprocess.run([CURL, "--version"], stdout=subprocess.PIPE).stdout,
                   "curl has no HTTP/2 support"),
    "openssl": (lambda: shutil.which(OPENSSL) is not None or os.access(OPENSSL, os.X_OK), "openssl CLI not found"),
}


def missing(requires):
    """The reasons of the requirements (names of REQUIREMENTS) that are not met."""
    return [REQUIREMENTS[r][1] for r in requires if not REQUIREMENTS[r][0]()]


def main(requires=("mock",), module="__main__"):
    """Runs the unittest cases of module; prints "N passed, N failed[, N skipped]"; exits 0 when
    nothing failed, 1 otherwise, 77 when a requirement is missing or every test skipped.
    Arguments on the command line select tests by name (unittest's -k patterns)."""
    reasons = missing(requires)
    if reasons:
        for r in reasons:
            print("SKIP: " + r)
        print("0 passed, 0 failed, 0 skipped")
        sys.exit(77)
    loader = unittest.TestLoader()
    if len(sys.argv) > 1:
        loader.testNamePatterns = ["*%s*" % a for a in sys.argv[1:]]
    suite = loader.loadTestsFromModule(sys.modules[module])
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    _stop_all()
    def methods(entries):
        """distinct test methods (a failing subTest counts for its method, once)"""
        return {getattr(t, "test_case", t).id() for t, *_ in entries}

    failed = len(methods(result.failures) | methods(result.errors) | methods((t,) for t in result.unexpectedSuccesses))
    skipped = len(methods(result.skipped))
    passed = result.testsRun - failed - skipped - len(result.expectedFailures)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.stdout.flush()
    if failed:
        sys.exit(1)
    sys.exit(77 if result.testsRun > 0 and skipped == result.testsRun else 0)
