#!/bin/sh
# pki.sh: creates the test PKI of the integration tests in OUTDIR, in about a
# second (EC P-256 keys), with the openssl CLI ($OPENSSL, else openssl):
#
#   ca.crt, ca.key                 the test CA
#   upstream.crt, upstream.key     server cert for IP 127.0.0.1 and DNS localhost, signed
#                                  by ca (the mock's cert, also the gateway's own listener)
#   wrong-host.crt, wrong-host.key CN/SAN example.invalid, signed by ca (host-name checks)
#   other-ca.crt, other-ca.key     a second, unrelated CA
#   other.crt, other.key           cert for 127.0.0.1 and localhost signed by other-ca
#                                  (chain checks)
#
# Idempotent: a file that exists is kept; a leaf is re-made only when it is missing or
# no longer verifies against its CA (a CA that was deleted and made again).
# Usage: pki.sh OUTDIR
set -eu

out=${1:?usage: pki.sh OUTDIR}
ssl=${OPENSSL:-openssl}
mkdir -p "$out"
cd "$out"

key() { # key FILE: an EC P-256 private key (PKCS#8 PEM)
    [ -s "$1" ] || { "$ssl" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.tmp" 2>/dev/null && mv "$1.tmp" "$1"; }
}

ca() { # ca NAME CN: a self-signed CA, NAME.crt and NAME.key
    key "$1.key"
    [ -s "$1.crt" ] && return 0
    cat >"$1.ext" <<EOF
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    "$ssl" req -new -key "$1.key" -subj "/O=hubgate tests/CN=$2" -out "$1.csr"
    "$ssl" x509 -req -in "$1.csr" -signkey "$1.key" -days 3650 -sha256 -set_serial "0x$("$ssl" rand -hex 8)" \
        -extfile "$1.ext" -extensions ca -out "$1.crt.tmp" 2>/dev/null
    mv "$1.crt.tmp" "$1.crt"
    rm -f "$1.csr" "$1.ext"
}

leaf() { # leaf NAME CA CN SAN: NAME.crt and NAME.key, signed by CA (re-made when CA was re-made)
    key "$1.key"
    [ -s "$1.crt" ] && "$ssl" verify -CAfile "$2.crt" "$1.crt" >/dev/null 2>&1 && return 0
    cat >"$1.ext" <<EOF
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $4
authorityKeyIdentifier = keyid
EOF
    "$ssl" req -new -key "$1.key" -subj "/O=hubgate tests/CN=$3" -out "$1.csr"
    "$ssl" x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -days 3650 -sha256 \
        -set_serial "0x$("$ssl" rand -hex 8)" -extfile "$1.ext" -extensions leaf -out "$1.crt.tmp" 2>/dev/null
    mv "$1.crt.tmp" "$1.crt"
    rm -f "$1.csr" "$1.ext"
}

ca ca "hubgate test CA"
leaf upstream ca 127.0.0.1 "IP:127.0.0.1, DNS:localhost"
leaf wrong-host ca example.invalid "DNS:example.invalid"
ca other-ca "hubgate other CA"
leaf other other-ca 127.0.0.1 "IP:127.0.0.1, DNS:localhost"
