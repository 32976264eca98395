// The stack's configuration: one schema, parsed once, every problem reported together.
import { checkPrometheus, prometheusSchema } from "../components/prometheus/config.js";
import { checkTracing, tracingBackendSchema } from "../components/tracing/config.js";
import { checkLogging, LOGGING_SECRET_KEYS, type LoggingSecrets, loggingSchema, takeLoggingSecrets } from "../components/logging/config.js";
import { checkKiali, KIALI_SECRET_KEYS, type KialiSecrets, kialiSchema, takeKialiSecrets } from "../components/kiali/config.js";
import { checkGrafana, GRAFANA_SECRET_KEYS, type GrafanaSecrets, grafanaSchema, takeGrafanaSecrets } from "../components/grafana/config.js";
import { bool, dnsLabel, type Field, formatIssues, type Infer, type Issue, list, num, obj, oneOf, parseObject, record, str, resources } from "../lib/schema.js";

export const NAMESPACE = "obs";
export const ISTIO_PROFILES = ["default", "demo", "minimal", "empty"] as const;
export type IstioProfile = (typeof ISTIO_PROFILES)[number];


const revision = obj(
  {
    name: dnsLabel({ doc: "revision name, used in `istio.io/rev` and object names (e.g. `1-30`)" }),
    version: str({ doc: "Istio version of this revision's control plane; must have a pinned istioctl in tools/versions.json" }),
    profile: oneOf(ISTIO_PROFILES, { doc: "profile for this revision (default: `istio.profile`)", default: undefined as unknown as IstioProfile }),
  },
  { doc: "a control-plane revision", optional: false },
);

/** The schema of every `obs:` key. Defaults live here and nowhere else. */
export const schema = {
  environment: str({ doc: "environment name, used as the `environment` external label and in object labels", default: "local" }),
  clusterName: str({ doc: "cluster name, used as the `cluster` external label", default: "local" }),
  kubernetes: obj(
    {
      context: str({ doc: "kubeconfig context to deploy to (not with renderDir); `local` stack: the embedded cluster's context", default: "" }),
      kubeconfig: str({ doc: "kubeconfig file (default: $KUBECONFIG or ~/.kube/config; the embedded cluster's for `local`)", default: "" }),
      renderDir: str({ doc: "write every object as YAML under this directory instead of deploying (not with context)", default: "" }),
    },
    { doc: "where the stack goes: exactly one of context or renderDir" },
  ),
  retainOnDelete: bool({ doc: "keep CRDs, namespaces and stateful objects in the cluster when they leave the stack or on destroy (off only where data is disposable)", default: true }),
  istio: obj(
    {
      profile: oneOf(ISTIO_PROFILES, { doc: "istioctl profile rendered for every revision", default: "default" }),
      revisions: list(revision, { doc: "control-plane revisions; the canary upgrade adds one beside the other", default: [] }),
      tags: record(dnsLabel({ doc: "revision this tag points at" }), { doc: "revision tags (`istioctl tag set` equivalent): tag -> revision", default: {}, keyDoc: "a DNS-1123 label", keyPattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/ }),
      namespaces: record(dnsLabel({ doc: "tag or revision" }), { doc: "application namespaces and the tag or revision that injects them (`istio.io/rev`)", default: {}, keyDoc: "a DNS-1123 label", keyPattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/ }),
      mtls: oneOf(["STRICT", "PERMISSIVE"] as const, { doc: "mesh-wide PeerAuthentication mode", default: "STRICT" }),
      pilot: obj(
        {
          replicas: num({ doc: "istiod replicas (the HPA minimum when autoscale is on)", default: 1, min: 1, max: 20, integer: true }),
          autoscaleMax: num({ doc: "HPA maximum; equal to replicas turns the HPA off", default: 1, min: 1, max: 50, integer: true }),
          resources: resources("istiod resources", { cpu: "500m", memory: "2Gi" }, { cpu: "2", memory: "4Gi" }),
        },
        { doc: "istiod" },
      ),
      gateways: obj(
        {
          ingress: bool({ doc: "deploy the ingress gateway", default: true }),
          egress: bool({ doc: "deploy the egress gateway", default: false }),
          serviceType: oneOf(["LoadBalancer", "NodePort", "ClusterIP"] as const, { doc: "Service type of the ingress gateway", default: "LoadBalancer" }),
          replicas: num({ doc: "gateway replicas", default: 1, min: 1, max: 50, integer: true }),
          revision: str({ doc: "revision whose gateways are deployed (in place); default: the first revision", default: "" }),
        },
        { doc: "gateways (upgraded in place, see README)" },
      ),
      accessLog: bool({ doc: "Envoy access log to /dev/stdout as JSON (the EFK pipeline relies on it)", default: true }),
      forceRemoveRevisions: list(dnsLabel({ doc: "revision name" }), { doc: "revisions that may be removed although pods or namespaces still use them (explicit override of the guard rail)", default: [] }),
    },
    { doc: "Istio control plane" },
  ),
  tracing: obj(
    {
      samplingPercent: num({ doc: "percentage of requests traced (Telemetry API randomSamplingPercentage)", default: 1, min: 0, max: 100 }),
      namespace: dnsLabel({ doc: "namespace of the observability components (Jaeger collector's Zipkin service)", default: "observability" }),
    },
    { doc: "tracing" },
  ),
  logging: loggingSchema,
  prometheus: prometheusSchema,
  jaeger: tracingBackendSchema,
  grafana: grafanaSchema,
  kiali: kialiSchema,
} satisfies Record<string, Field<unknown>>;

/** Secret values, kept apart from the typed config and handed on as Pulumi secrets only. */
export interface StackSecrets {
  readonly logging?: LoggingSecrets;
  readonly grafana?: GrafanaSecrets;
  readonly kiali?: KialiSecrets;
}

/** The secret keys of each section (`obs:<section>.<key>`), e.g. for placeholders in an offline render. */
export const SECRET_KEYS: Readonly<Record<keyof StackSecrets, readonly string[]>> = { logging: LOGGING_SECRET_KEYS, grafana: GRAFANA_SECRET_KEYS, kiali: KIALI_SECRET_KEYS };

export type StackConfig = Infer<typeof schema> & { readonly stack: string; readonly secrets: StackSecrets };
export type IstioConfig = StackConfig["istio"];
export type RevisionConfig = IstioConfig["revisions"][number];

export class ConfigError extends Error {
  constructor(
    readonly stackName: string,
    readonly issues: readonly Issue[],
  ) {
    super(`invalid configuration for stack '${stackName}' (config/Pulumi.${stackName}.yaml), ${issues.length} problem(s):\n${formatIssues(issues)}`);
    this.name = "ConfigError";
  }
}

export interface PinnedVersions {
  /** Istio versions that have a pinned istioctl. */
  readonly istio: readonly string[];
}

/**
 * Parses raw `obs:*` config values (already YAML-decoded) into a StackConfig.
 * Throws one ConfigError listing every problem. `raw` keys are without the `obs:` prefix.
 */
export function parseConfig(stack: string, raw: Record<string, unknown>, pinned: PinnedVersions): StackConfig {
  const issues: Issue[] = [];
  const logging = takeLoggingSecrets(raw.logging, issues);
  const grafana = takeGrafanaSecrets(raw.grafana, issues);
  const kiali = takeKialiSecrets(raw.kiali, issues);
  const parsed = parseObject(schema, { ...raw, logging: logging.rest, grafana: grafana.rest, kiali: kiali.rest }, NAMESPACE, issues);
  for (const i of issues) if (i.key.startsWith(`${NAMESPACE}.`)) Object.assign(i, { key: i.key.replace(`${NAMESPACE}.`, `${NAMESPACE}:`) });
  if (parsed) crossChecks(parsed, pinned, issues);
  if (issues.length || !parsed) throw new ConfigError(stack, issues);
  return { ...parsed, stack, secrets: { ...(logging.secrets ? { logging: logging.secrets } : {}), ...(grafana.secrets ? { grafana: grafana.secrets } : {}), ...(kiali.secrets ? { kiali: kiali.secrets } : {}) } };
}

function crossChecks(c: Infer<typeof schema>, pinned: PinnedVersions, issues: Issue[]): void {
  const k = c.kubernetes;
  if (k.context && k.renderDir) issues.push({ key: "obs:kubernetes", value: { context: k.context, renderDir: k.renderDir }, allowed: "exactly one of context or renderDir, never both" });
  if (!k.context && !k.renderDir) issues.push({ key: "obs:kubernetes", value: {}, allowed: "exactly one of context or renderDir" });

  const i = c.istio;
  const revNames = i.revisions.map((r) => r.name);
  if (i.revisions.length === 0 && i.profile !== "empty") issues.push({ key: "obs:istio.revisions", value: [], allowed: "at least one revision ({name, version})" });
  i.revisions.forEach((r, idx) => {
    if (!pinned.istio.includes(r.version)) issues.push({ key: `obs:istio.revisions[${idx}].version`, value: r.version, allowed: `an Istio version with a pinned istioctl: ${pinned.istio.join(", ")}` });
    if (revNames.indexOf(r.name) !== idx) issues.push({ key: `obs:istio.revisions[${idx}].name`, value: r.name, allowed: "a name not used by another revision" });
    if (r.name === "default") issues.push({ key: `obs:istio.revisions[${idx}].name`, value: r.name, allowed: "a name other than 'default' (reserved for the default tag)" });
  });
  for (const [tag, rev] of Object.entries(i.tags)) {
    if (!revNames.includes(rev)) issues.push({ key: `obs:istio.tags.${tag}`, value: rev, allowed: `a revision in obs:istio.revisions (${revNames.join(", ") || "none"})` });
    if (revNames.includes(tag)) issues.push({ key: `obs:istio.tags.${tag}`, value: rev, allowed: "a tag name that is not also a revision name" });
  }
  const targets = [...revNames, ...Object.keys(i.tags)];
  for (const [ns, target] of Object.entries(i.namespaces)) {
    if (!targets.includes(target)) issues.push({ key: `obs:istio.namespaces.${ns}`, value: target, allowed: `a revision or tag (${targets.join(", ") || "none"})` });
    if (ns === "istio-system" || ns === "kube-system") issues.push({ key: `obs:istio.namespaces.${ns}`, value: target, allowed: "an application namespace (istio-system and kube-system are never injected)" });
  }
  if (i.gateways.revision && !revNames.includes(i.gateways.revision)) issues.push({ key: "obs:istio.gateways.revision", value: i.gateways.revision, allowed: `a revision in obs:istio.revisions (${revNames.join(", ")})` });
  checkLogging(c.logging, issues);
  checkPrometheus(c.prometheus, issues);
  checkTracing(c.jaeger, issues);
  checkGrafana(c.grafana, { prometheusEnabled: c.prometheus.enabled }, issues);
  checkKiali(c.kiali, { environment: c.environment, prometheusEnabled: c.prometheus.enabled }, issues);
  if (i.pilot.autoscaleMax < i.pilot.replicas) issues.push({ key: "obs:istio.pilot.autoscaleMax", value: i.pilot.autoscaleMax, allowed: `>= obs:istio.pilot.replicas (${i.pilot.replicas})` });
}

/** The revision a namespace label resolves to, through tags. */
export function effectiveRevision(istio: IstioConfig, target: string): string | undefined {
  if (istio.revisions.some((r) => r.name === target)) return target;
  return istio.tags[target];
}
