// Pod and Service specs of the EFK pieces, as plain objects (the Kubernetes types are
// imported for checking only). The component wires them into resources.
import { createHmac } from "node:crypto";
import { contentHash, SECRETS_HASH_ANNOTATION } from "../k8s/hash.js";
import { apartOnNodes, overZones } from "../k8s/spread.js";
import { labels, selectorLabels } from "../k8s/labels.js";
import { scrapeAnnotations } from "../mesh/metrics.js";
import type * as k8s from "@pulumi/kubernetes";
import { BOOTSTRAP_DIR, BOOTSTRAP_SCRIPT, BOOTSTRAP_USERS, CERTS_SCRIPT } from "./bootstrap.js";
import { type LoggingConfig } from "./config.js";
import { ES_CERTS_DIR } from "./elasticsearch.js";
import { BUFFER_DIR, CONFIG_DIR, FLUENTD_CONF, FLUENTD_CONTAINER, LOG_DIR, METRICS_PORT, MONITOR_PORT, POS_DIR } from "./fluentd.js";
import {
  CERT_EXPORTER_IMAGE,
  CERT_EXPORTER_PORT,
  ES_EXPORTER_IMAGE,
  ES_EXPORTER_PORT,
  ES_HTTP_PORT,
  ES_IMAGE,
  ES_TRANSPORT_PORT,
  FLUENTD_IMAGE,
  FLUENTD_USER,
  KIBANA_IMAGE,
  KIBANA_PORT,
  KIBANA_USER,
  type LoggingNames,
  MONITORING_USER,
  PAUSE_IMAGE,
} from "./names.js";

type PodSpec = k8s.types.input.core.v1.PodSpec;
type EnvVar = k8s.types.input.core.v1.EnvVar;
type Resources = { readonly requests: Readonly<Record<string, string>>; readonly limits: Readonly<Record<string, string>> };

/** Key of every credentials Secret. */
export const PASSWORD_KEY = "password";
export const CONFIG_HASH_ANNOTATION = "observability-stack/config-hash";
const ES_HOME = "/usr/share/elasticsearch";
const ES_CA_FILE = `${ES_HOME}/config/${ES_CERTS_DIR}/ca.crt`;
/** Key of the CA certificate in the CA Secret. */
export const CA_KEY = "ca.crt";
/** Where clients (Fluentd, Kibana, the exporter, the bootstrap Job) mount the CA Secret. */
export const CLIENT_CA_DIR = "/etc/elasticsearch-ca";
export const CLIENT_CA_FILE = `${CLIENT_CA_DIR}/${CA_KEY}`;

export const configHash = (...parts: string[]) => contentHash(...parts).slice(0, 16);

/**
 * A stack user's Elasticsearch password, derived from the elastic password so that no further
 * secret has to be configured: deterministic (no churn between runs), one-way (a credential
 * present on a node does not reveal the superuser's) and distinct per user.
 */
export function deriveUserPassword(elasticPassword: string, user: string): string {
  return createHmac("sha256", elasticPassword).update(`observability-stack/logging/${user}`).digest("hex").slice(0, 32);
}

export const deriveFluentdPassword = (elasticPassword: string) => deriveUserPassword(elasticPassword, FLUENTD_USER);

// The pipeline's own pods stay out of the mesh: Elasticsearch speaks TLS itself, Fluentd
// reads the node, and a sidecar would keep the Jobs from completing.
const podLabels = (instance: string, component: string) => ({ ...labels(component, instance), "sidecar.istio.io/inject": "false" });

const resources = (r: Resources) => ({ requests: { ...r.requests }, limits: { ...r.limits } });
/** Requests and limits of the small fixed containers (exporters, Jobs, the sysctl DaemonSet). */
const fixedResources = (cpu: [string, string], memory: [string, string], storage: [string, string] = ["16Mi", "64Mi"]) => ({
  requests: { cpu: cpu[0], memory: memory[0], "ephemeral-storage": storage[0] },
  limits: { cpu: cpu[1], memory: memory[1], "ephemeral-storage": storage[1] },
});
const secretEnv = (name: string, secret: string, key = PASSWORD_KEY): EnvVar => ({ name, valueFrom: { secretKeyRef: { name: secret, key } } });
const fieldEnv = (name: string, fieldPath: string): EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });
const plainEnv = (env: Record<string, string>): EnvVar[] => Object.entries(env).map(([name, value]) => ({ name, value }));
const caVolume = (n: LoggingNames) => ({ name: "es-ca", secret: { secretName: n.esCa } });
const caMount = { name: "es-ca", mountPath: CLIENT_CA_DIR, readOnly: true };
const seccomp = { seccompProfile: { type: "RuntimeDefault" } };
// Pod Security `restricted`: non-root, the runtime's seccomp profile, no privilege escalation, no capabilities.
const nonRoot = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, ...seccomp };
const restricted = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, ...seccomp };
/** Pod-template annotations of a pod reading Secrets: their content hash (never the content). */
const secretsAnnotation = (hash: string | undefined): Record<string, string> => (hash ? { [SECRETS_HASH_ANNOTATION]: hash } : {});

export interface ElasticsearchSpecInput {
  readonly instance: string;
  readonly names: LoggingNames;
  readonly config: LoggingConfig["elasticsearch"];
  /** Hash of elasticsearch.yml: a change rolls the pods. */
  readonly configHash: string;
  /** Quorum members on distinct nodes as a hard rule (staging, prod); otherwise preferred. */
  readonly requireSpread?: boolean;
}

/** Where the file-realm files (users, users_roles of the INTERNAL_USER) are mounted: Elasticsearch's config dir. */
const ES_CONFIG_DIR = `${ES_HOME}/config`;
/** ES's cluster metadata on the data volume; present once the node has been part of a cluster. */
const ES_STATE_DIR = `${ES_HOME}/data/_state`;

/**
 * The readiness check: the node answers, the cluster is at least yellow, and no shard copy on
 * this node is initialising or relocating, so a rolling update waits until the restarted node
 * holds its data again before it takes the next one down. The file-realm user's password
 * reaches curl on its standard input (a config line from the shell's printf builtin), never on
 * a command line.
 */
export function esReadinessScript(caFile: string): string {
  const curl = (path: string) => `printf 'user = "%s:%s"\\n' "$INTERNAL_USER" "$INTERNAL_PASSWORD" | curl -s -K - --max-time 4 --cacert ${caFile} 'https://localhost:${ES_HTTP_PORT}${path}'`;
  return [
    `[ "$(${curl("/_cluster/health?wait_for_status=yellow&timeout=1s")} -o /dev/null -w '%{http_code}')" = 200 ] || exit 1`,
    `shards=$(${curl("/_cat/shards?h=state,node")} -f) || exit 1`,
    `! grep -qE "^(INITIALIZING|RELOCATING) .*\\b$POD_NAME\\b" <<< "$shards"`,
  ].join("\n");
}

/**
 * The container's command: the image's entrypoint, with cluster.initial_master_nodes only while
 * the node has never been part of a cluster (no cluster state on its volume). Once formed, the
 * setting is gone, so a node that lost its volume joins the cluster instead of bootstrapping a
 * second one. The image takes dotted environment variables as settings.
 */
export function esCommand(initialMasters: readonly string[]): string[] {
  if (initialMasters.length === 0) return [];
  const start = (settings: string) => `exec env node.attr.zone="$zone" ${settings}/usr/local/bin/docker-entrypoint.sh eswrapper`;
  return [
    "bash",
    "-c",
    [`zone=$(cat ${ZONE_FILE} 2>/dev/null || true); zone=\${zone:-none}`, `if [ -d ${ES_STATE_DIR} ]; then ${start("")}; fi`, start(`cluster.initial_master_nodes=${initialMasters.join(",")} `)].join("\n"),
  ];
}

/** Where the zone init container leaves the node's topology.kubernetes.io/zone for the node attribute. */
const ZONE_DIR = "/var/run/es-zone";
const ZONE_FILE = `${ZONE_DIR}/zone`;

/**
 * The init container's script: the zone label of the pod's node, read from the API server with
 * the pod's token (the header comes from a file, not the command line), into ZONE_FILE; "none"
 * where nodes carry no zone, which makes every node one zone (awareness then changes nothing).
 */
export function zoneScript(): string {
  const sa = "/var/run/secrets/kubernetes.io/serviceaccount";
  return [
    "set -u",
    `printf 'Authorization: Bearer %s' "$(cat ${sa}/token)" > /tmp/auth`,
    `node=$(curl -s --max-time 10 --cacert ${sa}/ca.crt -H @/tmp/auth "https://kubernetes.default.svc/api/v1/nodes/$NODE_NAME" || true)`,
    `zone=$(printf '%s' "$node" | sed -n 's/.*"topology\\.kubernetes\\.io\\/zone": *"\\([^"]*\\)".*/\\1/p' | head -n 1)`,
    `printf '%s' "\${zone:-none}" > ${ZONE_FILE}`,
    `echo "zone: \${zone:-none}"`,
  ].join("\n");
}

/** Hard (staging, prod) or preferred anti-affinity on the node name; topology spread over zones. */
export function spreadOverNodes(selector: Record<string, string>, required: boolean): Pick<PodSpec, "affinity" | "topologySpreadConstraints"> {
  return { affinity: apartOnNodes(selector, required), topologySpreadConstraints: overZones(selector) };
}

export function esStatefulSetSpec(i: ElasticsearchSpecInput): k8s.types.input.apps.v1.StatefulSetSpec {
  const { names: n, config: c } = i;
  const selector = selectorLabels("elasticsearch", i.instance);
  const initialMasters = c.nodes > 1 ? Array.from({ length: c.nodes }, (_, k) => `${n.es}-${k}`) : [];
  const fileRealm = (file: string) => ({ name: "internal-user", mountPath: `${ES_CONFIG_DIR}/${file}`, subPath: file, readOnly: true });
  const podSpec: PodSpec = {
    securityContext: nonRoot,
    terminationGracePeriodSeconds: 120,
    automountServiceAccountToken: false,
    // Quorum members on distinct nodes: a hard rule where losing a node must not lose two members.
    ...(c.nodes > 1 ? spreadOverNodes(selector, i.requireSpread ?? false) : {}),
    // Several nodes: shard allocation awareness by zone, from the node's label (read with the pod's token).
    ...(c.nodes > 1
      ? {
          serviceAccountName: n.es,
          automountServiceAccountToken: true,
          initContainers: [
            {
              name: "zone",
              image: ES_IMAGE,
              command: ["bash", "-c", zoneScript()],
              env: [fieldEnv("NODE_NAME", "spec.nodeName")],
              securityContext: restricted,
              resources: fixedResources(["10m", "100m"], ["32Mi", "128Mi"]),
              volumeMounts: [{ name: "zone", mountPath: ZONE_DIR }],
            },
          ],
        }
      : {}),
    containers: [
      {
        name: "elasticsearch",
        image: ES_IMAGE,
        ...(initialMasters.length ? { command: esCommand(initialMasters) } : {}),
        env: [
          fieldEnv("POD_NAME", "metadata.name"),
          fieldEnv("POD_IP", "status.podIP"),
          { name: "ES_JAVA_OPTS", value: `-Xms${c.heap} -Xmx${c.heap}` },
          { name: "INTERNAL_USER", valueFrom: { secretKeyRef: { name: n.esInternal, key: "username" } } },
          secretEnv("INTERNAL_PASSWORD", n.esInternal),
        ],
        ports: [
          { name: "https", containerPort: ES_HTTP_PORT },
          { name: "transport", containerPort: ES_TRANSPORT_PORT },
        ],
        resources: resources(c.resources),
        securityContext: restricted,
        readinessProbe: { exec: { command: ["bash", "-c", esReadinessScript(ES_CA_FILE)] }, initialDelaySeconds: 15, periodSeconds: 10, timeoutSeconds: 10 },
        volumeMounts: [
          { name: "data", mountPath: `${ES_HOME}/data` },
          { name: "config", mountPath: `${ES_CONFIG_DIR}/elasticsearch.yml`, subPath: "elasticsearch.yml", readOnly: true },
          // a directory mount, not subPath: a renewed certificate reaches the running node, which reloads it
          { name: "certs", mountPath: `${ES_CONFIG_DIR}/${ES_CERTS_DIR}`, readOnly: true },
          fileRealm("users"),
          fileRealm("users_roles"),
          ...(c.nodes > 1 ? [{ name: "zone", mountPath: ZONE_DIR, readOnly: true }] : []),
        ],
      },
    ],
    volumes: [
      { name: "config", configMap: { name: n.esConfig } },
      { name: "certs", secret: { secretName: n.esCerts, defaultMode: 0o440 } },
      { name: "internal-user", secret: { secretName: n.esInternal, items: [{ key: "users", path: "users" }, { key: "users_roles", path: "users_roles" }], defaultMode: 0o440 } },
      ...(c.nodes > 1 ? [{ name: "zone", emptyDir: { sizeLimit: "1Mi" } }] : []),
    ],
  };
  return {
    serviceName: n.esHeadless,
    replicas: c.nodes,
    // Nodes must start together to elect a master; rolling updates stay one at a time.
    podManagementPolicy: "Parallel",
    updateStrategy: { type: "RollingUpdate" },
    persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
    selector: { matchLabels: selector },
    template: { metadata: { labels: podLabels(i.instance, "elasticsearch"), annotations: { [CONFIG_HASH_ANNOTATION]: i.configHash } }, spec: podSpec },
    volumeClaimTemplates: [
      {
        metadata: { name: "data", labels: labels("elasticsearch", i.instance) },
        spec: { accessModes: ["ReadWriteOnce"], ...(c.storageClass ? { storageClassName: c.storageClass } : {}), resources: { requests: { storage: c.storageSize } } },
      },
    ],
  };
}

export interface MaxMapCountSpecInput {
  readonly instance: string;
}

/**
 * A privileged DaemonSet in Fluentd's (privileged) namespace raising vm.max_map_count to what
 * mmap-backed Lucene needs, so the Elasticsearch pods themselves pass Pod Security `restricted`.
 * Its init container only ever raises the value (as `sysctl -w vm.max_map_count=262144` would),
 * then a pause container holds the pod so the DaemonSet reports the node as done.
 */
export function maxMapCountDaemonSetSpec(i: MaxMapCountSpecInput): k8s.types.input.apps.v1.DaemonSetSpec {
  return {
    selector: { matchLabels: selectorLabels("es-max-map-count", i.instance) },
    updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%" } },
    template: {
      metadata: { labels: podLabels(i.instance, "es-max-map-count") },
      spec: {
        automountServiceAccountToken: false,
        initContainers: [
          {
            name: "max-map-count",
            image: ES_IMAGE,
            command: ["bash", "-c", `cur=$(cat /proc/sys/vm/max_map_count); if [ "$cur" -lt ${ES_MAX_MAP_COUNT} ]; then echo ${ES_MAX_MAP_COUNT} > /proc/sys/vm/max_map_count; fi`],
            securityContext: { privileged: true, runAsUser: 0, runAsNonRoot: false },
            resources: fixedResources(["10m", "100m"], ["16Mi", "64Mi"]),
          },
        ],
        containers: [
          {
            name: "pause",
            image: PAUSE_IMAGE,
            securityContext: { ...restricted, runAsNonRoot: true, runAsUser: 65535, readOnlyRootFilesystem: true },
            resources: fixedResources(["1m", "10m"], ["4Mi", "16Mi"], ["1Mi", "8Mi"]),
          },
        ],
      },
    },
  };
}

/** What Elasticsearch's bootstrap check wants for mmap-backed storage. */
export const ES_MAX_MAP_COUNT = 262144;

export function esHeadlessServiceSpec(instance: string): k8s.types.input.core.v1.ServiceSpec {
  return {
    clusterIP: "None",
    // Discovery resolves pods before they are Ready: the cluster cannot form otherwise.
    publishNotReadyAddresses: true,
    selector: selectorLabels("elasticsearch", instance),
    ports: [
      { name: "https", port: ES_HTTP_PORT, targetPort: "https", appProtocol: "https" },
      { name: "transport", port: ES_TRANSPORT_PORT, targetPort: "transport" },
    ],
  };
}

export function esHttpServiceSpec(instance: string): k8s.types.input.core.v1.ServiceSpec {
  return { type: "ClusterIP", selector: selectorLabels("elasticsearch", instance), ports: [{ name: "https", port: ES_HTTP_PORT, targetPort: "https", appProtocol: "https" }] };
}

export interface JobSpecInput {
  readonly instance: string;
  readonly names: LoggingNames;
  /** ConfigMap holding the script (and, for the bootstrap, its request bodies). */
  readonly configMap: string;
  readonly env: Record<string, string>;
  /** Hash of the ConfigMap's content and env: a change makes a new Job. */
  readonly contentHash: string;
  readonly deadlineSeconds: number;
  /** secretHash of the passwords the Job sets: a rotation makes a new Job, which sets them. */
  readonly secretsHash?: string;
}

interface JobShape {
  readonly component: string;
  readonly script: string;
  readonly pod: Partial<PodSpec>;
  readonly secretEnv: EnvVar[];
  /** Mount the CA Secret (the bootstrap talks to Elasticsearch). */
  readonly ca: boolean;
}

function jobSpec(i: JobSpecInput, s: JobShape): k8s.types.input.batch.v1.JobSpec {
  return {
    backoffLimit: 4,
    activeDeadlineSeconds: i.deadlineSeconds + 300,
    template: {
      metadata: { labels: podLabels(i.instance, s.component), annotations: { [CONFIG_HASH_ANNOTATION]: i.contentHash, ...secretsAnnotation(i.secretsHash) } },
      spec: {
        restartPolicy: "OnFailure",
        securityContext: nonRoot,
        ...s.pod,
        containers: [
          {
            name: s.component,
            image: ES_IMAGE,
            command: ["bash", `${BOOTSTRAP_DIR}/${s.script}`],
            env: [...plainEnv(i.env), ...s.secretEnv],
            securityContext: restricted,
            resources: fixedResources(["50m", "1"], ["256Mi", "512Mi"], ["64Mi", "256Mi"]),
            volumeMounts: [{ name: "scripts", mountPath: BOOTSTRAP_DIR, readOnly: true }, ...(s.ca ? [caMount] : [])],
          },
        ],
        volumes: [{ name: "scripts", configMap: { name: i.configMap } }, ...(s.ca ? [caVolume(i.names)] : [])],
      },
    },
  };
}

/** The certs Job: creates the CA and node certificate Secrets once (scripts/certs.sh). */
export function certsJobSpec(i: JobSpecInput & { readonly serviceAccount: string }): k8s.types.input.batch.v1.JobSpec {
  return jobSpec(i, { component: "es-certs", script: CERTS_SCRIPT, pod: { serviceAccountName: i.serviceAccount }, secretEnv: [], ca: false });
}

/** The bootstrap Job: ILM, templates, aliases, users (scripts/bootstrap.sh). */
export function bootstrapJobSpec(i: JobSpecInput): k8s.types.input.batch.v1.JobSpec {
  const n = i.names;
  const env = [
    secretEnv("ADMIN_PASSWORD", n.esInternal),
    secretEnv("ELASTIC_PASSWORD", n.elasticCredentials),
    secretEnv("KIBANA_PASSWORD", n.kibanaCredentials),
    ...BOOTSTRAP_USERS.map((u) => secretEnv(u.passwordEnv, n[u.credentials])),
  ];
  return jobSpec(i, { component: "es-bootstrap", script: BOOTSTRAP_SCRIPT, pod: { automountServiceAccountToken: false }, secretEnv: env, ca: true });
}

export interface FluentdSpecInput {
  readonly instance: string;
  readonly names: LoggingNames;
  readonly resources: Resources;
  readonly serviceAccount: string;
  readonly configHash: string;
  /** secretHash of Fluentd's Elasticsearch password: a rotation rolls the DaemonSet. */
  readonly secretsHash?: string;
}

export function fluentdDaemonSetSpec(i: FluentdSpecInput): k8s.types.input.apps.v1.DaemonSetSpec {
  const n = i.names;
  const hostDir = (name: string, path: string, type: string) => ({ name, hostPath: { path, type } });
  return {
    selector: { matchLabels: selectorLabels("fluentd", i.instance) },
    updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
    template: {
      metadata: { labels: podLabels(i.instance, "fluentd"), annotations: { [CONFIG_HASH_ANNOTATION]: i.configHash, ...secretsAnnotation(i.secretsHash), ...scrapeAnnotations(METRICS_PORT) } },
      spec: {
        serviceAccountName: i.serviceAccount,
        // Its namespace is labelled Pod Security `privileged`: root and hostPath (see README).
        securityContext: seccomp,
        // Every node's logs, including tainted (control-plane, dedicated) nodes.
        tolerations: [{ operator: "Exists" }],
        terminationGracePeriodSeconds: 60,
        containers: [
          {
            name: FLUENTD_CONTAINER,
            image: FLUENTD_IMAGE,
            env: [
              { name: "FLUENTD_CONF", value: FLUENTD_CONF },
              { name: "FLUENT_ELASTICSEARCH_USER", value: FLUENTD_USER },
              secretEnv("FLUENT_ELASTICSEARCH_PASSWORD", n.fluentdCredentials),
              // kubernetes_metadata watches only this node's pods.
              fieldEnv("K8S_NODE_NAME", "spec.nodeName"),
            ],
            // Root reads the runtime's log files (root-owned, 0640 on many distributions).
            securityContext: { runAsUser: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"], add: ["DAC_READ_SEARCH"] } },
            resources: resources(i.resources),
            ports: [
              { name: "monitor", containerPort: MONITOR_PORT },
              { name: "metrics", containerPort: METRICS_PORT },
            ],
            livenessProbe: { httpGet: { path: "/api/plugins.json", port: "monitor" }, initialDelaySeconds: 30, periodSeconds: 30, timeoutSeconds: 5 },
            volumeMounts: [
              // /var/log/containers symlinks into /var/log/pods; both are under /var/log, and
              // containerd/CRI-O keep no log under /var/lib, so nothing else of the node is read.
              { name: "varlog", mountPath: LOG_DIR, readOnly: true },
              { name: "positions", mountPath: POS_DIR },
              { name: "buffers", mountPath: BUFFER_DIR },
              { name: "config", mountPath: CONFIG_DIR, readOnly: true },
              caMount,
            ],
          },
        ],
        volumes: [
          hostDir("varlog", LOG_DIR, "Directory"),
          hostDir("positions", POS_DIR, "DirectoryOrCreate"),
          hostDir("buffers", BUFFER_DIR, "DirectoryOrCreate"),
          { name: "config", configMap: { name: n.fluentd } },
          caVolume(n),
        ],
      },
    },
  };
}

export interface EsExporterSpecInput {
  readonly instance: string;
  readonly names: LoggingNames;
  /** Elasticsearch's client URL; its host is a SAN of the node certificate. */
  readonly esUrl: string;
  /** secretHash of the exporter's password: a rotation rolls it. */
  readonly secretsHash?: string;
}

/**
 * elasticsearch-exporter as its own Deployment, not a sidecar of the Elasticsearch pods: a
 * sidecar would roll every data node whenever the exporter changes, and a failing exporter
 * would make its node's pod NotReady and so drop it from the client Service. One exporter
 * with --es.all reports every node (label `name`) and the cluster health once. It trusts the
 * CA and checks the Service name; its user and password come from the environment, not the URL.
 */
export function esExporterDeploymentSpec(i: EsExporterSpecInput): k8s.types.input.apps.v1.DeploymentSpec {
  return {
    replicas: 1,
    selector: { matchLabels: selectorLabels("es-exporter", i.instance) },
    template: {
      metadata: { labels: podLabels(i.instance, "es-exporter"), annotations: { ...secretsAnnotation(i.secretsHash), ...scrapeAnnotations(ES_EXPORTER_PORT) } },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, ...seccomp },
        automountServiceAccountToken: false,
        containers: [
          {
            name: "es-exporter",
            image: ES_EXPORTER_IMAGE,
            args: [`--es.uri=${i.esUrl}`, "--es.all", `--es.ca=${CLIENT_CA_FILE}`, "--es.timeout=10s", `--web.listen-address=:${ES_EXPORTER_PORT}`],
            env: [{ name: "ES_USERNAME", value: MONITORING_USER }, secretEnv("ES_PASSWORD", i.names.monitoringCredentials)],
            ports: [{ name: "metrics", containerPort: ES_EXPORTER_PORT }],
            resources: fixedResources(["10m", "200m"], ["32Mi", "128Mi"]),
            securityContext: { ...restricted, readOnlyRootFilesystem: true },
            readinessProbe: { httpGet: { path: "/healthz", port: "metrics" }, periodSeconds: 10, timeoutSeconds: 5 },
            livenessProbe: { httpGet: { path: "/healthz", port: "metrics" }, initialDelaySeconds: 10, periodSeconds: 30, timeoutSeconds: 5 },
            volumeMounts: [caMount],
          },
        ],
        volumes: [caVolume(i.names)],
      },
    },
  };
}

export interface KibanaSpecInput {
  readonly instance: string;
  readonly names: LoggingNames;
  readonly esUrl: string;
  readonly resources: Resources;
  /** Public host when exposed: Kibana builds its links from it. */
  readonly publicHost?: string;
  /** secretHash of Kibana's password: a rotation rolls it. */
  readonly secretsHash?: string;
}

export function kibanaDeploymentSpec(i: KibanaSpecInput): k8s.types.input.apps.v1.DeploymentSpec {
  return {
    replicas: 1,
    selector: { matchLabels: selectorLabels("kibana", i.instance) },
    template: {
      metadata: { labels: podLabels(i.instance, "kibana"), annotations: secretsAnnotation(i.secretsHash) },
      spec: {
        securityContext: nonRoot,
        automountServiceAccountToken: false,
        containers: [
          {
            name: "kibana",
            image: KIBANA_IMAGE,
            env: [
              ...plainEnv({
                ELASTICSEARCH_HOSTS: i.esUrl,
                ELASTICSEARCH_USERNAME: KIBANA_USER,
                ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES: CLIENT_CA_FILE,
                ELASTICSEARCH_SSL_VERIFICATIONMODE: "full",
                ...(i.publicHost ? { SERVER_PUBLICBASEURL: `https://${i.publicHost}` } : {}),
              }),
              secretEnv("ELASTICSEARCH_PASSWORD", i.names.kibanaCredentials),
            ],
            ports: [{ name: "http", containerPort: KIBANA_PORT }],
            resources: resources(i.resources),
            securityContext: restricted,
            // /login answers 200 once Kibana reached Elasticsearch (503 before).
            readinessProbe: { httpGet: { path: "/login", port: "http" }, initialDelaySeconds: 20, periodSeconds: 10, timeoutSeconds: 5 },
            volumeMounts: [caMount],
          },
        ],
        volumes: [caVolume(i.names)],
      },
    },
  };
}

export function kibanaServiceSpec(instance: string): k8s.types.input.core.v1.ServiceSpec {
  return { type: "ClusterIP", selector: selectorLabels("kibana", instance), ports: [{ name: "http", port: KIBANA_PORT, targetPort: "http", appProtocol: "http" }] };
}

export interface CertExporterSpecInput {
  readonly instance: string;
  readonly names: LoggingNames;
}

/** Where the certificate exporter mounts the node certificate and the CA (never the key). */
export const CERT_EXPORTER_DIR = "/certs";

/**
 * x509-certificate-exporter reading the node certificate and the CA bundle from the certs
 * Secret (only those two keys are mounted): x509_cert_not_after per certificate, for the
 * CertificateExpiringSoon alert. A renewal reaches its files like Elasticsearch's.
 */
export function certExporterDeploymentSpec(i: CertExporterSpecInput): k8s.types.input.apps.v1.DeploymentSpec {
  const files = ["tls.crt", CA_KEY];
  return {
    replicas: 1,
    selector: { matchLabels: selectorLabels("es-cert-exporter", i.instance) },
    template: {
      metadata: { labels: podLabels(i.instance, "es-cert-exporter"), annotations: scrapeAnnotations(CERT_EXPORTER_PORT) },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, ...seccomp },
        automountServiceAccountToken: false,
        containers: [
          {
            name: "cert-exporter",
            image: CERT_EXPORTER_IMAGE,
            args: [...files.map((f) => `--watch-file=${CERT_EXPORTER_DIR}/${f}`), `--listen-address=:${CERT_EXPORTER_PORT}`],
            ports: [{ name: "metrics", containerPort: CERT_EXPORTER_PORT }],
            resources: fixedResources(["5m", "100m"], ["16Mi", "64Mi"]),
            securityContext: { ...restricted, readOnlyRootFilesystem: true },
            readinessProbe: { tcpSocket: { port: "metrics" }, periodSeconds: 10 },
            volumeMounts: [{ name: "certs", mountPath: CERT_EXPORTER_DIR, readOnly: true }],
          },
        ],
        volumes: [{ name: "certs", secret: { secretName: i.names.esCerts, items: files.map((f) => ({ key: f, path: f })) } }],
      },
    },
  };
}
