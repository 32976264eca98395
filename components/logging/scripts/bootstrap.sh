#!/usr/bin/env bash
# Puts Elasticsearch's desired state from the files in $BOOTSTRAP_DIR: ILM policies
# (ilm-<name>.json), index templates (template-<name>.json), roles (role-<name>.json), the
# first index behind each write alias (aliases.txt: "<alias> <index>", body index-<alias>.json),
# the stack's users (users.txt: "<user> <role> <password variable> <full name>") and the
# passwords of the built-in `elastic` and Kibana (kibana_system) users. It acts as ADMIN_USER, a
# file-realm superuser (certs.sh), so a rotated elastic password is set without its old value.
# Unchanged policies and templates are no-ops in Elasticsearch; indices and passwords are only
# written when missing or different, so a re-run changes nothing.
# Environment: ES_URL CA_FILE ADMIN_USER ADMIN_PASSWORD ELASTIC_USER ELASTIC_PASSWORD
#              KIBANA_USER KIBANA_PASSWORD, the password variable of every line of users.txt,
#              [BOOTSTRAP_DIR] [DEADLINE_SECONDS]
set -euo pipefail
dir=${BOOTSTRAP_DIR:-/bootstrap}
deadline=$(( $(date +%s) + ${DEADLINE_SECONDS:-600} ))
tmp=$(mktemp -d)

json_escape() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '%s' "$s"; }

# es USER:PASS METHOD PATH [@FILE]: sets CODE (000: no answer); the body is left in $tmp/body.
es() {
  local auth=$1 method=$2 path=$3 data=${4:-}
  local args=(--silent --output "$tmp/body" --write-out '%{http_code}' --cacert "$CA_FILE" --user "$auth"
    --max-time 30 -X "$method" -H 'Content-Type: application/json')
  if [[ -n $data ]]; then args+=(--data-binary "$data"); fi
  # stdin closed: the users loop below reads users.txt from it.
  CODE=$(curl "${args[@]}" "$ES_URL$path" 2>/dev/null </dev/null) || true
  [[ $CODE =~ ^[0-9]{3}$ ]] || CODE=000
}

# call METHOD PATH DATA OK_CODE...: as ADMIN_USER; waits out an unavailable cluster until the deadline.
call() {
  local method=$1 path=$2 data=$3 ok
  shift 3
  while :; do
    es "$ADMIN_USER:$ADMIN_PASSWORD" "$method" "$path" "$data"
    for ok in "$@"; do
      if [[ $CODE == "$ok" ]]; then echo "$method $path: $CODE"; return 0; fi
    done
    case $CODE in
      000 | 408 | 429 | 5??) ;;
      *) echo "$method $path: unexpected $CODE: $(head -c 2000 "$tmp/body")" >&2; exit 1 ;;
    esac
    if (( $(date +%s) >= deadline )); then echo "$method $path: still $CODE at the deadline" >&2; exit 1; fi
    sleep "${RETRY_SECONDS:-5}"
  done
}

# authenticates USER PASSWORD: true when Elasticsearch already accepts that password.
authenticates() {
  es "$1:$2" GET /_security/_authenticate
  [[ $CODE == 200 ]]
}

# name_of FILE PREFIX: "template-k8s-logs.json" -> "k8s-logs"
name_of() { local n=${1##*/"$2"}; printf '%s' "${n%.json}"; }

call GET '/_cluster/health?wait_for_status=yellow&timeout=30s' '' 200
for f in "$dir"/ilm-*.json; do call PUT "/_ilm/policy/$(name_of "$f" ilm-)" "@$f" 200; done
for f in "$dir"/template-*.json; do call PUT "/_index_template/$(name_of "$f" template-)" "@$f" 200; done
while read -r alias index; do
  [[ -n $alias ]] || continue
  call GET "/_alias/$alias" '' 200 404
  if [[ $CODE == 404 ]]; then call PUT "/$index" "@$dir/index-$alias.json" 200; else echo "alias $alias exists"; fi
done < "$dir/aliases.txt"
for f in "$dir"/role-*.json; do call PUT "/_security/role/$(name_of "$f" role-)" "@$f" 200; done

while read -r user role password_var full_name; do
  [[ -n $user ]] || continue
  password=${!password_var:?"$password_var (password of $user) is not set"}
  if authenticates "$user" "$password"; then
    echo "user $user is up to date"
  else
    printf '{"password":"%s","roles":["%s"],"full_name":"%s"}' \
      "$(json_escape "$password")" "$role" "$(json_escape "$full_name")" > "$tmp/user-$user.json"
    call PUT "/_security/user/$user" "@$tmp/user-$user.json" 200
  fi
done < "$dir/users.txt"
# set_builtin USER PASSWORD: a built-in user's password, changed only when it differs.
set_builtin() {
  if authenticates "$1" "$2"; then
    echo "user $1 is up to date"
  else
    printf '{"password":"%s"}' "$(json_escape "$2")" > "$tmp/password-$1.json"
    call POST "/_security/user/$1/_password" "@$tmp/password-$1.json" 200
  fi
}
set_builtin "$ELASTIC_USER" "$ELASTIC_PASSWORD"
set_builtin "$KIBANA_USER" "$KIBANA_PASSWORD"
echo "bootstrap complete"
