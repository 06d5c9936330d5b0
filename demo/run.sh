#!/usr/bin/env bash
# demo/run.sh: build hubgate, start the mock HubSpot upstream (TLS, test CA)
# and hubgate with conf/demo.yaml, send a few sample requests, show the
# annotated answers and the audit trail, then keep both running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
[ -x configure ] || ./bootstrap
mkdir -p _build
(cd _build && { [ -f Makefile ] || ../configure -q; } && make -j"$(nproc)" hubgate tests/mock_hubspot >/dev/null)

demo=conf/demo
mkdir -p "$demo"
sh tests/pki.sh "$demo/pki" >/dev/null
cp "$demo/pki/ca.crt" "$demo/ca.crt"
[ -s "$demo/hs256.secret" ] || openssl rand -hex 32 > "$demo/hs256.secret"
[ -s "$demo/hubspot.token" ] || echo "pat-demo-$(openssl rand -hex 8)" > "$demo/hubspot.token"
chmod 600 "$demo/hs256.secret" "$demo/hubspot.token"

pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

_build/tests/mock_hubspot --listen 127.0.0.1:18443 --tls-cert "$demo/pki/upstream.crt" --tls-key "$demo/pki/upstream.key" \
    --expect-token "$(cat "$demo/hubspot.token")" > "$demo/mock.log" 2>&1 &
pids+=($!)
_build/hubgate -t -c conf/demo.yaml
_build/hubgate -c conf/demo.yaml > "$demo/access.log" 2> "$demo/hubgate.log" &
pids+=($!)
for _ in $(seq 200); do curl -sf http://127.0.0.1:9901/readyz >/dev/null 2>&1 && break; sleep 0.05; done
curl -sf http://127.0.0.1:9901/readyz >/dev/null || { cat "$demo/hubgate.log"; exit 1; }

token() { # an HS256 JWT for the demo issuer with the given scope
    python3 - "$demo/hs256.secret" "$1" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
secret = open(sys.argv[1], "rb").read().strip()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "demo"}).encode())
body = b64(json.dumps({"iss": "https://idp.demo.internal", "aud": "hubgate", "sub": "billing-service",
                       "client_id": "billing", "scope": sys.argv[2], "exp": int(time.time()) + 3600}).encode())
sig = b64(hmac.new(secret, (head + "." + body).encode(), hashlib.sha256).digest())
print(head + "." + body + "." + sig)
PY
}
show() { echo; echo "\$ $1"; shift; curl -s -i "$@" | sed 's/^/  /'; echo; }
url=http://127.0.0.1:8080/crm/v4/associations
good=$(token crm.objects.contacts.write)

show "a normalized request: names to ids, numeric ids to strings, a duplicate and an unknown field out" \
    -H "Authorization: Bearer $good" -H 'Content-Type: application/json' \
    --data '{"inputs":[{"from":{"id":101},"to":{"id":" 202 "}},{"from":{"id":"101"},"to":{"id":"202"}},{"from":{"id":"103"},"to":{"id":"204"},"note":"x"}]}' \
    "$url/contacts/companies/batch/associate/default"
show "a refused body: HubSpot's Node SDK sent _from as 'to' alone" \
    -H "Authorization: Bearer $good" -H 'Content-Type: application/json' \
    --data '{"inputs":[{"to":{"id":"202"}},{"from":{"id":"12x"},"to":{"id":"1"}}]}' "$url/contacts/companies/batch/associate/default"
show "a token without the scope" -H "Authorization: Bearer $(token crm.objects.deals.read)" -H 'Content-Type: application/json' \
    --data '{"inputs":[{"from":{"id":"1"},"to":{"id":"2"}}]}' "$url/contacts/companies/batch/associate/default"
show "no token" -H 'Content-Type: application/json' --data '{"inputs":[]}' "$url/contacts/companies/batch/associate/default"
show "HubSpot rate-limits (the mock answers 429 for from id 99429): passed through unchanged" -H "Authorization: Bearer $good" \
    -H 'Content-Type: application/json' --data '{"inputs":[{"from":{"id":"99429"},"to":{"id":"2"}}]}' \
    "$url/contacts/companies/batch/associate/default"

sleep 0.2 # the audit writer commits at least every 100 ms
echo "\$ hubgate audit -c conf/demo.yaml"
_build/hubgate audit -c conf/demo.yaml --limit 10
echo
echo "\$ curl http://127.0.0.1:9901/audit?object_id=101"
curl -s "http://127.0.0.1:9901/audit?object_id=101"; echo
echo
echo "hubgate is on http://127.0.0.1:8080 (admin http://127.0.0.1:9901), the mock HubSpot on https://127.0.0.1:18443."
echo "Logs: $demo/hubgate.log, access log $demo/access.log. Ctrl-C stops both."
wait
