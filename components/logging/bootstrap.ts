// The two Jobs' scripts. Both are idempotent: a re-run finds the desired state and changes
// nothing. They run in the Elasticsearch image, which has bash, curl, unzip and certutil.
import { type AccessLogField } from "../mesh/access-log.js";
import { FLUENTD_ROLE, fluentdRole, ILM_POLICY, ilmPolicy, indexTemplates, initialIndices } from "./elasticsearch.js";
import { FLUENTD_USER, KIBANA_USER } from "./names.js";

export const BOOTSTRAP_DIR = "/bootstrap";
export const BOOTSTRAP_SCRIPT = "bootstrap.sh";
export const CERTS_SCRIPT = "certs.sh";

export interface BootstrapInput {
  readonly rolloverSize: string;
  readonly retentionDays: number;
  readonly nodes: number;
  readonly fields?: readonly AccessLogField[];
}

/**
 * The bootstrap ConfigMap's files: request bodies (JSON) and the script that PUTs them.
 * The script reads ES_URL, CA_FILE, ELASTIC_PASSWORD, KIBANA_PASSWORD, FLUENTD_PASSWORD
 * and DEADLINE_SECONDS from its environment.
 */
export function bootstrapFiles(i: BootstrapInput): Record<string, string> {
  const json = (o: unknown) => JSON.stringify(o, null, 2) + "\n";
  const files: Record<string, string> = {
    "ilm-policy.json": json(ilmPolicy(i)),
    "role-fluentd.json": json(fluentdRole()),
  };
  for (const [name, body] of Object.entries(indexTemplates(i))) files[`template-${name}.json`] = json(body);
  for (const { alias, body } of initialIndices()) files[`index-${alias}.json`] = json(body);
  files[BOOTSTRAP_SCRIPT] = bootstrapScript(Object.keys(indexTemplates(i)), initialIndices());
  return files;
}

// Shared by both scripts: a bounded wait, and curl returning the HTTP status (000: no answer).
const COMMON = String.raw`set -euo pipefail
deadline=$(( $(date +%s) + \${DEADLINE_SECONDS:-600} ))
past_deadline() { (( $(date +%s) >= deadline )); }
json_escape() { local s=\${1//\\/\\\\}; s=\${s//\"/\\\"}; printf '%s' "$s"; }
`;

function bootstrapScript(templates: string[], indices: { alias: string; index: string }[]): string {
  const lines = [
    "#!/usr/bin/env bash",
    "# Puts Elasticsearch's desired state: ILM policy, index templates, write aliases, users.",
    "# PUTs of an unchanged policy/template are no-ops in Elasticsearch; indices and passwords",
    "# are only written when missing or different, so a re-run changes nothing.",
    COMMON,
    String.raw`dir=${BOOTSTRAP_DIR}
# es USER:PASS METHOD PATH [@FILE]: sets CODE (000 when there was no answer) and leaves the body in /tmp/es-body.
es() {
  local auth=$1 method=$2 path=$3 data=\${4:-}
  local args=(--silent --output /tmp/es-body --write-out '%{http_code}' --cacert "$CA_FILE" --user "$auth" --max-time 30 -X "$method" -H 'Content-Type: application/json')
  if [[ -n $data ]]; then args+=(--data-binary "$data"); fi
  CODE=$(curl "\${args[@]}" "$ES_URL$path" 2>/dev/null) || true
  [[ $CODE =~ ^[0-9]{3}$ ]] || CODE=000
}
# call METHOD PATH DATA OK_CODE...: as elastic; retries while Elasticsearch is unavailable, until the deadline.
call() {
  local method=$1 path=$2 data=$3; shift 3
  while :; do
    es "elastic:$ELASTIC_PASSWORD" "$method" "$path" "$data"
    for ok in "$@"; do if [[ $CODE == "$ok" ]]; then echo "$method $path: $CODE"; return 0; fi; done
    case $CODE in
      000|408|429|5??) ;;
      *) echo "$method $path: unexpected $CODE: $(head -c 2000 /tmp/es-body)" >&2; exit 1 ;;
    esac
    if past_deadline; then echo "$method $path: still $CODE at the deadline" >&2; exit 1; fi
    sleep 5
  done
}
# authenticates USER PASS: true when Elasticsearch accepts that password already.
authenticates() {
  es "$1:$2" GET /_security/_authenticate
  [[ $CODE == 200 ]]
}

call GET '/_cluster/health?wait_for_status=yellow&timeout=30s' '' 200
call PUT /_ilm/policy/${ILM_POLICY} @$dir/ilm-policy.json 200`,
    ...templates.map((t) => `call PUT /_index_template/${t} @$dir/template-${t}.json 200`),
    ...indices.map(
      ({ alias, index }) => String.raw`call GET /_alias/${alias} '' 200 404
if [[ $CODE == 404 ]]; then call PUT /${index} @$dir/index-${alias}.json 200; else echo "alias ${alias} exists"; fi`,
    ),
    String.raw`call PUT /_security/role/${FLUENTD_ROLE} @$dir/role-fluentd.json 200
if authenticates ${FLUENTD_USER} "$FLUENTD_PASSWORD"; then
  echo "user ${FLUENTD_USER} is up to date"
else
  printf '{"password":"%s","roles":["${FLUENTD_ROLE}"],"full_name":"Fluentd log shipper"}' "$(json_escape "$FLUENTD_PASSWORD")" > /tmp/fluentd-user.json
  call PUT /_security/user/${FLUENTD_USER} @/tmp/fluentd-user.json 200
fi
if authenticates ${KIBANA_USER} "$KIBANA_PASSWORD"; then
  echo "user ${KIBANA_USER} is up to date"
else
  printf '{"password":"%s"}' "$(json_escape "$KIBANA_PASSWORD")" > /tmp/kibana-password.json
  call POST /_security/user/${KIBANA_USER}/_password @/tmp/kibana-password.json 200
fi
echo "bootstrap complete"
`,
  ];
  return lines.join("\n");
}

export interface CertsInput {
  /** Secret with ca.crt, tls.crt and tls.key, mounted by Elasticsearch. */
  readonly certsSecret: string;
  /** Secret with ca.crt alone, mounted by the clients. */
  readonly caSecret: string;
  /** DNS names of the certificate (services, pods through the headless Service). */
  readonly dnsNames: readonly string[];
  /** Certificate validity. */
  readonly days?: number;
}

/**
 * Creates the CA and one node certificate with elasticsearch-certutil, stored as Secrets
 * through the API server (the Job's ServiceAccount may create Secrets and update these two).
 * When the certificate Secret exists it does nothing: certificates outlive `pulumi up`.
 */
export function certsScript(i: CertsInput): string {
  const days = i.days ?? 1095;
  return [
    "#!/usr/bin/env bash",
    "# Generates the Elasticsearch CA and node certificate once, as Secrets; an existing one is kept.",
    COMMON,
    String.raw`sa=/var/run/secrets/kubernetes.io/serviceaccount
api="https://kubernetes.default.svc/api/v1/namespaces/$(cat $sa/namespace)/secrets"
token=$(cat $sa/token)
certutil=/usr/share/elasticsearch/bin/elasticsearch-certutil
# kube METHOD URL [@FILE]: sets CODE (000 when there was no answer).
kube() {
  local args=(--silent --output /tmp/kube-body --write-out '%{http_code}' --cacert $sa/ca.crt --max-time 30 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -X "$1")
  if [[ -n \${3:-} ]]; then args+=(--data-binary "$3"); fi
  CODE=$(curl "\${args[@]}" "$2" 2>/dev/null) || true
  [[ $CODE =~ ^[0-9]{3}$ ]] || CODE=000
}
until kube GET "$api/${i.certsSecret}"; [[ $CODE == 200 || $CODE == 404 ]]; do
  if past_deadline; then echo "API server answered $CODE until the deadline" >&2; exit 1; fi
  sleep 5
done
if [[ $CODE == 200 ]]; then echo "secret ${i.certsSecret} exists; keeping it"; exit 0; fi

work=$(mktemp -d) && cd "$work"
$certutil ca --silent --pem --days ${days * 2} --out ca.zip && unzip -q ca.zip
$certutil cert --silent --pem --ca-cert ca/ca.crt --ca-key ca/ca.key --days ${days} --name node \
  --dns "${i.dnsNames.join(",")}" --ip 127.0.0.1 --out node.zip && unzip -q node.zip
# secret_json NAME KEY=FILE...: a Secret manifest with the files base64-encoded.
secret_json() {
  local name=$1 data="" sep=""; shift
  for kv in "$@"; do data+="$sep\"\${kv%%=*}\":\"$(base64 -w0 < "\${kv#*=}")\""; sep=","; done
  printf '{"apiVersion":"v1","kind":"Secret","type":"Opaque","metadata":{"name":"%s","labels":{"app.kubernetes.io/part-of":"observability-stack","app.kubernetes.io/managed-by":"logging-certs-job"}},"data":{%s}}' "$name" "$data"
}
secret_json ${i.caSecret} ca.crt=ca/ca.crt > ca-secret.json
secret_json ${i.certsSecret} ca.crt=ca/ca.crt tls.crt=node/node.crt tls.key=node/node.key > certs-secret.json
# The CA Secret first: a run that failed after it is repeated with a new CA, which replaces it.
kube POST "$api" @ca-secret.json
if [[ $CODE == 409 ]]; then kube PUT "$api/${i.caSecret}" @ca-secret.json; fi
[[ $CODE == 200 || $CODE == 201 ]] || { echo "writing ${i.caSecret}: $CODE $(head -c 2000 /tmp/kube-body)" >&2; exit 1; }
kube POST "$api" @certs-secret.json
[[ $CODE == 201 ]] || { echo "creating ${i.certsSecret}: $CODE $(head -c 2000 /tmp/kube-body)" >&2; exit 1; }
echo "created ${i.caSecret} and ${i.certsSecret}"
`,
  ].join("\n");
}
