// The stack's configuration: one schema, parsed once, every problem reported together.
import { checkIstio, istioSchema } from "../components/istio/config.js";
import { checkPrometheus, type PrometheusSecrets, prometheusSchema, takePrometheusSecrets } from "../components/prometheus/config.js";
import { type AlertingSecrets, alertingSchema, checkAlerting, checkReceiverEgress, takeAlertingSecrets } from "../components/prometheus/alerting/config.js";
import { checkJaeger, JAEGER_SECRET_KEYS, type JaegerSecrets, jaegerSchema, takeJaegerSecrets } from "../components/jaeger/config.js";
import { checkLogging, LOGGING_SECRET_KEYS, type LoggingSecrets, loggingSchema, takeLoggingSecrets } from "../components/logging/config.js";
import { checkKiali, KIALI_SECRET_KEYS, type KialiSecrets, kialiSchema, takeKialiSecrets } from "../components/kiali/config.js";
import { checkGrafana, GRAFANA_SECRET_KEYS, type GrafanaSecrets, grafanaSchema, takeGrafanaSecrets } from "../components/grafana/config.js";
import { checkNetworkPolicy, networkPolicySchema } from "../components/mesh/flows.js";
import { bool, dnsLabel, type Field, formatIssues, type Infer, type Issue, num, obj, parseObject, str } from "../lib/schema.js";

export const NAMESPACE = "obs";
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
  retainOnDelete: bool({ doc: "keep what holds data in the cluster on destroy or when it leaves the stack: CRDs, namespaces and the data volumes in them (off only where data is disposable)", default: true }),
  istio: istioSchema,
  namespace: dnsLabel({ doc: "namespace of the observability components (was obs:tracing.namespace)", default: "observability" }),
  clusterDomain: str({ doc: "the cluster's DNS domain, used in every in-cluster Service host the stack writes", default: "cluster.local", pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, patternDoc: "a DNS domain such as cluster.local" }),
  tracing: obj(
    {
      samplingPercent: num({ doc: "deprecated: use obs:istio.samplingPercent (accepted for one release)", default: undefined as unknown as number, min: 0, max: 100 }),
      namespace: dnsLabel({ doc: "deprecated: use obs:namespace (accepted for one release)", default: undefined as unknown as string }),
    },
    { doc: "deprecated section: its keys moved to obs:istio.samplingPercent and obs:namespace" },
  ),
  logging: loggingSchema,
  prometheus: prometheusSchema,
  alerting: alertingSchema,
  jaeger: jaegerSchema,
  grafana: grafanaSchema,
  kiali: kialiSchema,
  networkPolicy: networkPolicySchema,
} satisfies Record<string, Field<unknown>>;

/** Secret values, kept apart from the typed config and handed on as Pulumi secrets only. */
export interface StackSecrets {
  readonly logging?: LoggingSecrets;
  readonly jaeger?: JaegerSecrets;
  readonly grafana?: GrafanaSecrets;
  readonly kiali?: KialiSecrets;
  /** Remote-write credentials (obs:prometheus.remoteWrite[N].basicAuth.password, .bearerToken, .tls.key), by credential file. */
  readonly prometheus?: PrometheusSecrets;
  /** Receiver name -> its URL, key or password (obs:alerting.receivers.<name>.<url|apiUrl|routingKey|authPassword>). */
  readonly alerting?: AlertingSecrets;
}

/** The secret keys of each section (`obs:<section>.<key>`), e.g. for placeholders in an offline render. */
export const SECRET_KEYS: Readonly<Record<keyof StackSecrets, readonly string[]>> = { logging: LOGGING_SECRET_KEYS, jaeger: JAEGER_SECRET_KEYS, grafana: GRAFANA_SECRET_KEYS, kiali: KIALI_SECRET_KEYS, alerting: [], prometheus: [] };

/** The parsed config: deprecated keys already folded into their new place, with one message each. */
export type StackConfig = Omit<Infer<typeof schema>, "tracing"> & { readonly stack: string; readonly secrets: StackSecrets; readonly deprecations: readonly string[] };

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
  const jaeger = takeJaegerSecrets(raw.jaeger, issues);
  // per remote-write endpoint, so not in SECRET_KEYS
  const prometheus = takePrometheusSecrets(raw.prometheus, issues);
  // per receiver, so not in SECRET_KEYS: receiverSecretPaths names them
  const alerting = takeAlertingSecrets(raw.alerting, issues);
  const parsed = parseObject(schema, { ...raw, logging: logging.rest, grafana: grafana.rest, kiali: kiali.rest, jaeger: jaeger.rest, alerting: alerting.rest, prometheus: prometheus.rest }, NAMESPACE, issues);
  for (const i of issues) if (i.key.startsWith(`${NAMESPACE}.`)) Object.assign(i, { key: i.key.replace(`${NAMESPACE}.`, `${NAMESPACE}:`) });
  const deprecations: string[] = [];
  const current = parsed && foldDeprecated(parsed, raw, deprecations, issues);
  if (current) crossChecks(current, pinned, issues);
  if (current) checkAlerting(current.alerting, alerting.secrets, { prometheusEnabled: current.prometheus.enabled }, issues);
  if (current) checkReceiverEgress(current.alerting, current.networkPolicy, issues);
  if (issues.length || !current) throw new ConfigError(stack, issues);
  return { ...current, stack, deprecations, secrets: { ...(logging.secrets ? { logging: logging.secrets } : {}), ...(grafana.secrets ? { grafana: grafana.secrets } : {}), ...(kiali.secrets ? { kiali: kiali.secrets } : {}), ...(jaeger.secrets ? { jaeger: jaeger.secrets } : {}), alerting: alerting.secrets, ...(prometheus.secrets ? { prometheus: prometheus.secrets } : {}) } };
}

/** Old keys still accepted for one release: each moves to its new key with a message naming it; both set is an error. */
const DEPRECATED = [
  { old: "tracing.samplingPercent", now: "istio.samplingPercent" },
  { old: "tracing.namespace", now: "namespace" },
] as const;

function foldDeprecated(parsed: Infer<typeof schema>, raw: Record<string, unknown>, deprecations: string[], issues: Issue[]): Omit<Infer<typeof schema>, "tracing"> | undefined {
  const { tracing, ...rest } = parsed;
  const out = { ...rest, istio: { ...rest.istio } } as Record<string, any>;
  const rawAt = (path: string) => path.split(".").reduce<any>((o, k) => (o && typeof o === "object" ? o[k] : undefined), raw);
  for (const { old, now } of DEPRECATED) {
    const value = (tracing as Record<string, unknown>)[old.split(".")[1]!];
    if (value === undefined) continue;
    if (rawAt(now) !== undefined) {
      issues.push({ key: `obs:${old}`, value, allowed: `not set together with its replacement obs:${now} (remove obs:${old})` });
      continue;
    }
    const [head, tail] = now.split(".");
    if (tail) out[head!][tail] = value;
    else out[head!] = value;
    deprecations.push(`obs:${old} is deprecated: set obs:${now} instead (the old key is accepted until the next release)`);
  }
  return issues.length ? undefined : (out as Omit<Infer<typeof schema>, "tracing">);
}

function crossChecks(c: Omit<Infer<typeof schema>, "tracing">, pinned: PinnedVersions, issues: Issue[]): void {
  const k = c.kubernetes;
  if (k.context && k.renderDir) issues.push({ key: "obs:kubernetes", value: { context: k.context, renderDir: k.renderDir }, allowed: "exactly one of context or renderDir, never both" });
  if (!k.context && !k.renderDir) issues.push({ key: "obs:kubernetes", value: {}, allowed: "exactly one of context or renderDir" });

  checkIstio(c.istio, pinned.istio, issues);
  checkLogging(c.logging, issues);
  checkPrometheus(c.prometheus, issues, "obs:prometheus", { grafanaEnabled: c.grafana.enabled, kialiEnabled: c.kiali.enabled, meshMtls: c.istio.mtls });
  checkJaeger(c.jaeger, issues);
  checkGrafana(c.grafana, { prometheusEnabled: c.prometheus.enabled }, issues);
  checkKiali(c.kiali, { environment: c.environment, prometheusEnabled: c.prometheus.enabled }, issues);
  checkNetworkPolicy(c.networkPolicy, issues);
}
