#!/usr/bin/env bash
# Generates the Elasticsearch CA and node certificate once with elasticsearch-certutil and
# stores them as Secrets through the API server. An existing certificate Secret is kept, so
# a re-run changes nothing and certificates outlive `pulumi up`.
# Environment: CERTS_SECRET (ca.crt, tls.crt, tls.key) CA_SECRET (ca.crt) CERT_DNS (comma-separated)
#              [CERT_DAYS] [DEADLINE_SECONDS] [API_URL] [SA_DIR] [CERTUTIL]
set -euo pipefail
sa=${SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
api="${API_URL:-https://kubernetes.default.svc}/api/v1/namespaces/$(cat "$sa/namespace")/secrets"
token=$(cat "$sa/token")
certutil=${CERTUTIL:-/usr/share/elasticsearch/bin/elasticsearch-certutil}
days=${CERT_DAYS:-1095}
deadline=$(( $(date +%s) + ${DEADLINE_SECONDS:-600} ))
work=$(mktemp -d)

# kube METHOD URL [@FILE]: sets CODE (000: no answer); the body is left in $work/body.
kube() {
  local args=(--silent --output "$work/body" --write-out '%{http_code}' --cacert "$sa/ca.crt" --max-time 30
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -X "$1")
  if [[ -n ${3:-} ]]; then args+=(--data-binary "$3"); fi
  CODE=$(curl "${args[@]}" "$2" 2>/dev/null) || true
  [[ $CODE =~ ^[0-9]{3}$ ]] || CODE=000
}
fail() { echo "$1: $CODE $(head -c 2000 "$work/body")" >&2; exit 1; }

while kube GET "$api/$CERTS_SECRET"; [[ $CODE != 200 && $CODE != 404 ]]; do
  if (( $(date +%s) >= deadline )); then fail "reading $CERTS_SECRET until the deadline"; fi
  sleep "${RETRY_SECONDS:-5}"
done
if [[ $CODE == 200 ]]; then echo "secret $CERTS_SECRET exists; keeping it"; exit 0; fi

cd "$work"
# Absolute paths: certutil may resolve relative ones against its home rather than the working directory.
"$certutil" ca --silent --pem --days $(( days * 2 )) --out "$work/ca.zip"
unzip -q ca.zip
"$certutil" cert --silent --pem --ca-cert "$work/ca/ca.crt" --ca-key "$work/ca/ca.key" --days "$days" --name node \
  --dns "$CERT_DNS" --ip 127.0.0.1 --out "$work/node.zip"
unzip -q node.zip

# secret_json NAME KEY=FILE...: a Secret manifest with the files base64-encoded.
secret_json() {
  local name=$1 data="" sep="" kv
  shift
  for kv in "$@"; do data+="$sep\"${kv%%=*}\":\"$(base64 -w0 < "${kv#*=}")\""; sep=","; done
  printf '{"apiVersion":"v1","kind":"Secret","type":"Opaque","metadata":{"name":"%s","labels":{"app.kubernetes.io/part-of":"observability-stack","app.kubernetes.io/managed-by":"logging-certs-job"}},"data":{%s}}' "$name" "$data"
}
secret_json "$CA_SECRET" ca.crt=ca/ca.crt > ca-secret.json
secret_json "$CERTS_SECRET" ca.crt=ca/ca.crt tls.crt=node/node.crt tls.key=node/node.key > certs-secret.json

# The CA Secret first: a run that failed after writing it is repeated with a new CA, which replaces it.
kube POST "$api" @ca-secret.json
if [[ $CODE == 409 ]]; then kube PUT "$api/$CA_SECRET" @ca-secret.json; fi
[[ $CODE == 200 || $CODE == 201 ]] || fail "writing $CA_SECRET"
kube POST "$api" @certs-secret.json
[[ $CODE == 201 ]] || fail "creating $CERTS_SECRET"
echo "created $CA_SECRET and $CERTS_SECRET"
