#!/usr/bin/env bash
# Issues and renews Elasticsearch's TLS material with elasticsearch-certutil and keeps it in
# Secrets through the API server:
#   CA_KEY_SECRET (ca.crt, ca.key)  the CA, read by this Job only
#   CA_SECRET     (ca.crt)          what clients trust
#   CERTS_SECRET  (ca.crt, tls.crt, tls.key) the node certificate, mounted by Elasticsearch
#   INTERNAL_SECRET (username, password, users, users_roles) a file-realm superuser the
#                 bootstrap Job and the probes use, so no configured password is needed to
#                 reach the cluster (and rotating the configured ones needs no old value)
# A node certificate with more than RENEW_DAYS left (and the same names) is kept, so a re-run
# changes nothing. Renewal signs a new node certificate with the same CA: clients keep trusting
# it, and Elasticsearch reloads the mounted files without a restart. A CA that would not outlive
# a new node certificate (or that this Job never kept the key of) is replaced: clients get both
# CAs first, and the node certificate changes only after the kubelet had time to deliver them.
# CA_SECRET is also kept in CA_COPY_NAMESPACE (Fluentd's namespace), when set.
# Environment: CERTS_SECRET CA_SECRET CA_KEY_SECRET INTERNAL_SECRET INTERNAL_USER CERT_DNS (comma-separated)
#              [CA_COPY_NAMESPACE] [CERT_DAYS] [RENEW_DAYS] [PROPAGATE_SECONDS] [DEADLINE_SECONDS]
#              [API_URL] [SA_DIR] [ES_HOME] [CERTUTIL] [ES_USERS]
set -euo pipefail
sa=${SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
namespaces="${API_URL:-https://kubernetes.default.svc}/api/v1/namespaces"
api="$namespaces/$(cat "$sa/namespace")/secrets"
token=$(cat "$sa/token")
es_home=${ES_HOME:-/usr/share/elasticsearch}
certutil=${CERTUTIL:-$es_home/bin/elasticsearch-certutil}
es_users=${ES_USERS:-$es_home/bin/elasticsearch-users}
days=${CERT_DAYS:-1095}
renew_days=${RENEW_DAYS:-60}
deadline=$(( $(date +%s) + ${DEADLINE_SECONDS:-600} ))
work=$(mktemp -d)
cd "$work"

# kube METHOD URL [@FILE]: sets CODE (000: no answer); the body is left in $work/body.
kube() {
  local args=(--silent --output "$work/body" --write-out '%{http_code}' --cacert "$sa/ca.crt" --max-time 30
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -X "$1")
  if [[ -n ${3:-} ]]; then args+=(--data-binary "$3"); fi
  CODE=$(curl "${args[@]}" "$2" 2>/dev/null) || true
  [[ $CODE =~ ^[0-9]{3}$ ]] || CODE=000
}
fail() { echo "$1: $CODE $(head -c 2000 "$work/body")" >&2; exit 1; }

# read_secret NAME: 0 and the Secret's JSON in $work/NAME.json when it exists, 1 when it does not.
read_secret() {
  while kube GET "$api/$1"; [[ $CODE != 200 && $CODE != 404 ]]; do
    if (( $(date +%s) >= deadline )); then fail "reading $1 until the deadline"; fi
    sleep "${RETRY_SECONDS:-5}"
  done
  [[ $CODE == 200 ]] && cp "$work/body" "$work/$1.json"
}
# field NAME KEY: the decoded value of one key of a Secret read by read_secret (empty when absent).
field() { sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" "$work/$1.json" | head -n 1 | base64 -d 2>/dev/null || true; }
# valid_for FILE DAYS: the first certificate of FILE is still valid DAYS from now.
valid_for() { openssl x509 -in "$1" -noout -checkend $(( $2 * 86400 )) >/dev/null 2>&1; }
# names_of FILE: the DNS names of a certificate, sorted, comma-separated.
names_of() { openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | grep -o 'DNS:[^,]*' | sed 's/^DNS://' | sort | paste -sd, -; }

# secret_json NAME KEY=FILE...: a Secret manifest with the files base64-encoded.
secret_json() {
  local name=$1 data="" sep="" kv
  shift
  for kv in "$@"; do data+="$sep\"${kv%%=*}\":\"$(base64 -w0 < "${kv#*=}")\""; sep=","; done
  printf '{"apiVersion":"v1","kind":"Secret","type":"Opaque","metadata":{"name":"%s","labels":{"app.kubernetes.io/part-of":"observability-stack","app.kubernetes.io/managed-by":"logging-certs-job"}},"data":{%s}}' "$name" "$data"
}
# put_secret NAME KEY=FILE...: creates or replaces the Secret (in SECRETS_API, by default this namespace's).
put_secret() {
  local name=$1 to=${SECRETS_API:-$api}
  secret_json "$@" > "$work/put-$name.json"
  kube POST "$to" "@$work/put-$name.json"
  if [[ $CODE == 409 ]]; then kube PUT "$to/$name" "@$work/put-$name.json"; fi
  [[ $CODE == 200 || $CODE == 201 ]] || fail "writing $name${SECRETS_API:+ in $CA_COPY_NAMESPACE}"
}
# put_ca FILE: what clients trust, here and in CA_COPY_NAMESPACE.
put_ca() {
  put_secret "$CA_SECRET" ca.crt="$1"
  if [[ -n ${CA_COPY_NAMESPACE:-} ]]; then SECRETS_API="$namespaces/$CA_COPY_NAMESPACE/secrets" put_secret "$CA_SECRET" ca.crt="$1"; fi
}
# copy_ca: the copy in CA_COPY_NAMESPACE, when it is missing (a stack whose Fluentd just moved there).
copy_ca() {
  [[ -n ${CA_COPY_NAMESPACE:-} ]] || return 0
  kube GET "$namespaces/$CA_COPY_NAMESPACE/secrets/$CA_SECRET"
  [[ $CODE == 404 ]] || return 0
  read_secret "$CA_SECRET" || return 0
  field "$CA_SECRET" ca.crt > copy-ca.crt
  SECRETS_API="$namespaces/$CA_COPY_NAMESPACE/secrets" put_secret "$CA_SECRET" ca.crt=copy-ca.crt
  echo "copied $CA_SECRET to $CA_COPY_NAMESPACE"
}

# ---- the file-realm superuser: created once, kept ----
if read_secret "$INTERNAL_SECRET"; then
  echo "secret $INTERNAL_SECRET exists; keeping it"
else
  password=$(head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
  password=${password:0:32}
  mkdir -p "$work/conf"
  cp -r "$es_home/config/." "$work/conf/"
  : > "$work/conf/users"
  : > "$work/conf/users_roles"
  ES_PATH_CONF="$work/conf" "$es_users" useradd "$INTERNAL_USER" -p "$password" -r superuser >/dev/null
  printf '%s' "$INTERNAL_USER" > username
  printf '%s' "$password" > password
  put_secret "$INTERNAL_SECRET" username=username password=password users="$work/conf/users" users_roles="$work/conf/users_roles"
  echo "created $INTERNAL_SECRET"
fi

# ---- the node certificate: kept while it has more than RENEW_DAYS left ----
want_names=$(tr ',' '\n' <<< "$CERT_DNS" | sort | paste -sd, -)
if read_secret "$CERTS_SECRET"; then
  field "$CERTS_SECRET" tls.crt > current.crt
  if valid_for current.crt "$renew_days" && [[ $(names_of current.crt) == "$want_names" ]]; then
    echo "the certificate in $CERTS_SECRET is valid for more than $renew_days days; keeping it"
    copy_ca
    exit 0
  fi
  echo "renewing the certificate in $CERTS_SECRET (it ends within $renew_days days, or its names changed)"
  field "$CERTS_SECRET" ca.crt > previous-ca.crt
fi

# ---- the CA: reused while it outlives a new node certificate ----
mkdir -p ca
new_ca=true
if read_secret "$CA_KEY_SECRET"; then
  field "$CA_KEY_SECRET" ca.crt > ca/ca.crt
  field "$CA_KEY_SECRET" ca.key > ca/ca.key
  if valid_for ca/ca.crt $(( days + 1 )); then new_ca=false; fi
fi
if $new_ca; then
  rm -rf ca ca.zip
  # Absolute paths: certutil may resolve relative ones against its home rather than the working directory.
  "$certutil" ca --silent --pem --days $(( days * 2 )) --out "$work/ca.zip"
  unzip -q ca.zip
  put_secret "$CA_KEY_SECRET" ca.crt=ca/ca.crt ca.key=ca/ca.key
  cp ca/ca.crt trusted.crt
  if [[ -s previous-ca.crt ]]; then cat previous-ca.crt >> trusted.crt; fi
  put_ca trusted.crt
  if [[ -s previous-ca.crt ]]; then
    echo "new CA published beside the previous one; waiting for the kubelets to deliver it"
    sleep "${PROPAGATE_SECONDS:-90}"
  fi
else
  cp ca/ca.crt trusted.crt
  kube GET "$api/$CA_SECRET"
  if [[ $CODE != 200 ]]; then put_ca trusted.crt; else copy_ca; fi
fi

"$certutil" cert --silent --pem --ca-cert "$work/ca/ca.crt" --ca-key "$work/ca/ca.key" --days "$days" --name node \
  --dns "$CERT_DNS" --ip 127.0.0.1 --out "$work/node.zip"
unzip -q node.zip
put_secret "$CERTS_SECRET" ca.crt=trusted.crt tls.crt=node/node.crt tls.key=node/node.key
echo "wrote $CERTS_SECRET: a certificate for $days days"
