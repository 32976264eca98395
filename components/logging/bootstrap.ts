// What the two Jobs run: the bootstrap's request bodies and both scripts (scripts/*.sh, plain
// bash kept as files so they read and lint as shell). Both scripts are idempotent.
import { readFileSync } from "node:fs";
import { type AccessLogField } from "../mesh/access-log.js";
import { FLUENTD_ROLE, fluentdRole, GRAFANA_ROLE, grafanaRole, ILM_POLICY, ilmPolicy, indexTemplates, initialIndices, MONITORING_ROLE, monitoringRole } from "./elasticsearch.js";
import { ELASTIC_USER, FLUENTD_USER, GRAFANA_USER, INTERNAL_USER, KIBANA_USER, type LoggingNames, MONITORING_USER } from "./names.js";
import { serviceHost } from "../k8s/hosts.js";

export const BOOTSTRAP_DIR = "/bootstrap";
export const BOOTSTRAP_SCRIPT = "bootstrap.sh";
export const CERTS_SCRIPT = "certs.sh";
export const USERS_FILE = "users.txt";

export interface BootstrapUser {
  readonly user: string;
  readonly role: string;
  readonly roleBody: () => Record<string, unknown>;
  /** The Job's variable holding the password (from the Secret named by `credentials`). */
  readonly passwordEnv: string;
  readonly credentials: keyof LoggingNames;
  readonly fullName: string;
}

/** The users bootstrap.sh creates, each with its own role and Secret (kibana_system is built in: only its password is set). */
export const BOOTSTRAP_USERS: readonly BootstrapUser[] = [
  { user: FLUENTD_USER, role: FLUENTD_ROLE, roleBody: fluentdRole, passwordEnv: "FLUENTD_PASSWORD", credentials: "fluentdCredentials", fullName: "Fluentd log shipper" },
  { user: MONITORING_USER, role: MONITORING_ROLE, roleBody: monitoringRole, passwordEnv: "MONITORING_PASSWORD", credentials: "monitoringCredentials", fullName: "Elasticsearch metrics exporter" },
  { user: GRAFANA_USER, role: GRAFANA_ROLE, roleBody: grafanaRole, passwordEnv: "GRAFANA_PASSWORD", credentials: "grafanaCredentials", fullName: "Grafana log reader" },
];

const script = (file: string) => readFileSync(new URL(`./scripts/${file}`, import.meta.url), "utf8");

export interface BootstrapInput {
  readonly rolloverSize: string;
  readonly retentionDays: number;
  readonly nodes: number;
  readonly fields?: readonly AccessLogField[];
}

/** The bootstrap ConfigMap: request bodies named as bootstrap.sh expects, and the script. */
export function bootstrapFiles(i: BootstrapInput): Record<string, string> {
  const json = (o: unknown) => JSON.stringify(o, null, 2) + "\n";
  const indices = initialIndices();
  const files: Record<string, string> = {
    [`ilm-${ILM_POLICY}.json`]: json(ilmPolicy(i)),
    "aliases.txt": indices.map((x) => `${x.alias} ${x.index}\n`).join(""),
    // "<user> <role> <password variable> <full name>", one a line
    [USERS_FILE]: BOOTSTRAP_USERS.map((u) => `${u.user} ${u.role} ${u.passwordEnv} ${u.fullName}\n`).join(""),
  };
  for (const u of BOOTSTRAP_USERS) files[`role-${u.role}.json`] = json(u.roleBody());
  for (const [name, body] of Object.entries(indexTemplates(i))) files[`template-${name}.json`] = json(body);
  for (const { alias, body } of indices) files[`index-${alias}.json`] = json(body);
  files[BOOTSTRAP_SCRIPT] = script(BOOTSTRAP_SCRIPT);
  return files;
}

/** bootstrap.sh's environment apart from the passwords (which come from Secrets). */
export function bootstrapEnv(esUrl: string, caFile: string, deadlineSeconds: number): Record<string, string> {
  return { ES_URL: esUrl, CA_FILE: caFile, ADMIN_USER: INTERNAL_USER, ELASTIC_USER, KIBANA_USER, BOOTSTRAP_DIR, DEADLINE_SECONDS: String(deadlineSeconds) };
}

export function certsFiles(): Record<string, string> {
  return { [CERTS_SCRIPT]: script(CERTS_SCRIPT) };
}

/** DNS names of the one certificate all nodes share: the client Service and every pod. */
export function certDnsNames(n: LoggingNames, namespace: string, clusterDomain: string): string[] {
  // every form a client may dial (short names from the same namespace too); the stack itself uses the FQDN
  const svc = (s: string) => [s, `${s}.${namespace}`, `${s}.${namespace}.svc`, serviceHost(s, namespace, clusterDomain)];
  return ["localhost", ...svc(n.esHttp), ...svc(n.esHeadless), `*.${n.esHeadless}.${namespace}.svc`, `*.${serviceHost(n.esHeadless, namespace, clusterDomain)}`];
}

export interface CertLifetime {
  /** Days a node certificate is issued for (its CA: twice as long). */
  readonly days: number;
  /** A run renews the node certificate when fewer days than this are left. */
  readonly renewBeforeDays: number;
}

/** certs.sh's environment. */
export function certsEnv(n: LoggingNames, namespace: string, clusterDomain: string, deadlineSeconds: number, lifetime: CertLifetime, caCopyNamespace?: string): Record<string, string> {
  return {
    ...(caCopyNamespace ? { CA_COPY_NAMESPACE: caCopyNamespace } : {}),
    CERTS_SECRET: n.esCerts,
    CA_SECRET: n.esCa,
    CA_KEY_SECRET: n.esCaKey,
    INTERNAL_SECRET: n.esInternal,
    INTERNAL_USER,
    CERT_DNS: certDnsNames(n, namespace, clusterDomain).join(","),
    CERT_DAYS: String(lifetime.days),
    RENEW_DAYS: String(lifetime.renewBeforeDays),
    DEADLINE_SECONDS: String(deadlineSeconds),
  };
}

/**
 * Days between two runs of the certs Job: its template carries the number of the current period
 * (renewalPeriod), so the first `up` of a new period runs it again, and it renews what is within
 * renewBeforeDays of its end. An `up` at least once a period renews before the 30-day alert.
 */
export function renewalCheckDays(l: CertLifetime, alertDays = 30): number {
  return Math.max(1, Math.floor((l.renewBeforeDays - alertDays) / 2));
}

/** The number of the renewal period `now` falls in (days since the epoch, in periods of renewalCheckDays). */
export function renewalPeriod(l: CertLifetime, now: number = Date.now()): number {
  return Math.floor(now / 86_400_000 / renewalCheckDays(l));
}
