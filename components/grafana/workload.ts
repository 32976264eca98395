// Grafana's pod: provisioning and dashboards from ConfigMaps, its database on a volume, the
// admin password and the Elasticsearch reader's password from Secrets. Pure builders.
import type * as k8s from "@pulumi/kubernetes";
import { SECRETS_HASH_ANNOTATION } from "../k8s/hash.js";
import { DASHBOARDS_DIR, ES_CA_DIR, ES_PASSWORD_ENV, type Folder, GRAFANA_PORT, PROVISIONING_DIR } from "./provisioning.js";

export const GRAFANA_IMAGE = "grafana/grafana:12.4.0";
export const CONFIG_HASH_ANNOTATION = "checksum/config";
export const ADMIN_USER = "admin";
export const ADMIN_PASSWORD_KEY = "password";
const GRAFANA_UID = 472;
const DATA_DIR = "/var/lib/grafana";
const ADMIN_DIR = "/etc/grafana/admin";

export interface GrafanaPodInput {
  readonly selector: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly configHash: string;
  /** secretHash of the Secrets the pod reads (admin password, Elasticsearch reader's password): a rotation rolls it. */
  readonly secretsHash?: string;
  readonly resources: { readonly requests: Record<string, string>; readonly limits: Record<string, string> };
  readonly claimName: string;
  readonly adminSecret: string;
  readonly datasourcesConfigMap: string;
  readonly providerConfigMap: string;
  /** ConfigMap of each dashboard folder present. */
  readonly dashboardConfigMaps: Partial<Record<Folder, string>>;
  readonly elasticsearch?: { readonly passwordSecret: string; readonly passwordKey: string; readonly caSecret: string; readonly caKey: string };
  /** https://host/ when exposed: Grafana builds its links and redirects from it. */
  readonly publicUrl?: string;
}

export function grafanaEnv(i: Pick<GrafanaPodInput, "elasticsearch" | "publicUrl">): k8s.types.input.core.v1.EnvVar[] {
  const env: k8s.types.input.core.v1.EnvVar[] = [
    { name: "GF_SECURITY_ADMIN_USER", value: ADMIN_USER },
    // Read once, when Grafana creates its database; see README for changing it later.
    { name: "GF_SECURITY_ADMIN_PASSWORD__FILE", value: `${ADMIN_DIR}/${ADMIN_PASSWORD_KEY}` },
    { name: "GF_AUTH_ANONYMOUS_ENABLED", value: "false" },
    { name: "GF_USERS_ALLOW_SIGN_UP", value: "false" },
    { name: "GF_ANALYTICS_REPORTING_ENABLED", value: "false" },
    { name: "GF_ANALYTICS_CHECK_FOR_UPDATES", value: "false" },
    { name: "GF_PATHS_PROVISIONING", value: PROVISIONING_DIR },
    ...(i.publicUrl ? [{ name: "GF_SERVER_ROOT_URL", value: i.publicUrl }] : []),
  ];
  if (i.elasticsearch) env.push({ name: ES_PASSWORD_ENV, valueFrom: { secretKeyRef: { name: i.elasticsearch.passwordSecret, key: i.elasticsearch.passwordKey } } });
  return env;
}

/** The init container's script: reset the admin password from the mounted Secret, once a database exists. */
export function adminPasswordScript(): string {
  return `if [ -f ${DATA_DIR}/grafana.db ]; then grafana cli --homepath /usr/share/grafana admin reset-admin-password --password-from-stdin < ${ADMIN_DIR}/${ADMIN_PASSWORD_KEY}; else echo "no database yet: Grafana creates the admin with this password"; fi`;
}

export function grafanaDeploymentSpec(i: GrafanaPodInput): k8s.types.input.apps.v1.DeploymentSpec {
  const folders = Object.entries(i.dashboardConfigMaps) as [Folder, string][];
  const probe = { httpGet: { path: "/api/health", port: GRAFANA_PORT }, periodSeconds: 10, timeoutSeconds: 5 };
  // what the init container and Grafana share: resources, a restricted container, the data, tmp and admin mounts
  const containerBase = {
    resources: { requests: { ...i.resources.requests }, limits: { ...i.resources.limits } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
  };
  const baseMounts = [
    { name: "data", mountPath: DATA_DIR },
    { name: "tmp", mountPath: "/tmp" },
    { name: "admin", mountPath: ADMIN_DIR, readOnly: true },
  ];
  return {
    replicas: 1,
    // One pod owns the ReadWriteOnce volume (SQLite): the old pod goes before the new one starts.
    strategy: { type: "Recreate" },
    selector: { matchLabels: i.selector },
    template: {
      metadata: { labels: { ...i.labels, "sidecar.istio.io/inject": "false" }, annotations: { [CONFIG_HASH_ANNOTATION]: i.configHash, ...(i.secretsHash ? { [SECRETS_HASH_ANNOTATION]: i.secretsHash } : {}) } },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: GRAFANA_UID, runAsGroup: GRAFANA_UID, fsGroup: GRAFANA_UID, seccompProfile: { type: "RuntimeDefault" } },
        automountServiceAccountToken: false,
        // GF_SECURITY_ADMIN_PASSWORD only applies when Grafana creates its database: on an existing
        // one, the admin password is set from the Secret on every start, so a rotation (which rolls
        // the pod through the secrets hash) takes effect.
        initContainers: [
          {
            name: "admin-password",
            image: GRAFANA_IMAGE,
            command: ["sh", "-c", adminPasswordScript()],
            env: grafanaEnv(i),
            ...containerBase,
            volumeMounts: [...baseMounts],
          },
        ],
        containers: [
          {
            name: "grafana",
            image: GRAFANA_IMAGE,
            ports: [{ name: "http", containerPort: GRAFANA_PORT }],
            env: grafanaEnv(i),
            readinessProbe: { ...probe, failureThreshold: 3 },
            // Database migrations on an upgrade can take a while before /api/health answers.
            // Liveness only asks whether the server answers at all: /api/health also checks the
            // database, and a database hiccup should take the pod out of the Service, not restart it.
            livenessProbe: { tcpSocket: { port: GRAFANA_PORT }, periodSeconds: 10, timeoutSeconds: 5, initialDelaySeconds: 60, failureThreshold: 10 },
            ...containerBase,
            volumeMounts: [
              ...baseMounts,
              { name: "datasources", mountPath: `${PROVISIONING_DIR}/datasources`, readOnly: true },
              { name: "dashboard-provider", mountPath: `${PROVISIONING_DIR}/dashboards`, readOnly: true },
              ...folders.map(([folder]) => ({ name: `dashboards-${folder.toLowerCase()}`, mountPath: `${DASHBOARDS_DIR}/${folder}`, readOnly: true })),
              ...(i.elasticsearch ? [{ name: "es-ca", mountPath: ES_CA_DIR, readOnly: true }] : []),
            ],
          },
        ],
        volumes: [
          { name: "data", persistentVolumeClaim: { claimName: i.claimName } },
          { name: "tmp", emptyDir: {} },
          { name: "admin", secret: { secretName: i.adminSecret, items: [{ key: ADMIN_PASSWORD_KEY, path: ADMIN_PASSWORD_KEY }] } },
          { name: "datasources", configMap: { name: i.datasourcesConfigMap } },
          { name: "dashboard-provider", configMap: { name: i.providerConfigMap } },
          ...folders.map(([folder, configMap]) => ({ name: `dashboards-${folder.toLowerCase()}`, configMap: { name: configMap } })),
          ...(i.elasticsearch ? [{ name: "es-ca", secret: { secretName: i.elasticsearch.caSecret, items: [{ key: i.elasticsearch.caKey, path: i.elasticsearch.caKey }] } }] : []),
        ],
      },
    },
  };
}
