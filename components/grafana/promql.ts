// Small PromQL and Lucene builders for the dashboards, so queries are assembled from the metric
// registry (components/mesh/metrics.ts) and the access-log fields instead of being retyped.
import { ACCESS_LOG_FIELDS } from "../mesh/access-log.js";
import { bucket } from "../mesh/metrics.js";

/** `metric{m1, m2}`; matchers are written out (`label="v"`, `label=~"re"`). */
export const sel = (metric: string, ...matchers: readonly string[]): string => (matchers.length ? `${metric}{${matchers.join(", ")}}` : metric);

export const eq = (label: string, value: string): string => `${label}="${value}"`;
export const re = (label: string, value: string): string => `${label}=~"${value}"`;

export const rate = (selector: string, window = "$__rate_interval"): string => `rate(${selector}[${window}])`;
export const sumBy = (labels: readonly string[], expr: string): string => (labels.length ? `sum by (${labels.join(", ")}) (${expr})` : `sum(${expr})`);

/** The q-quantile of a histogram over the selected series, kept per `by` labels. */
export function quantile(q: number, histogram: string, matchers: readonly string[], by: readonly string[] = []): string {
  return `histogram_quantile(${q}, ${sumBy([...by, "le"], rate(sel(bucket(histogram), ...matchers)))})`;
}

/** A field of the Envoy access-log record as Elasticsearch indexes it (under `access.`). */
export function accessField(name: string): string {
  if (!ACCESS_LOG_FIELDS.some((f) => f.name === name)) throw new Error(`access-log field '${name}' is not in ACCESS_LOG_FIELDS`);
  return `access.${name}`;
}

/** Kubernetes metadata Fluentd adds to every record. */
export const K8S_FIELDS = { namespace: "kubernetes.namespace_name", pod: "kubernetes.pod_name", container: "kubernetes.container_name" } as const;
