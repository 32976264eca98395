// Workloads the tests apply or inject: one way to write a Deployment, StatefulSet or DaemonSet
// whose pods carry `app: <name>` and run one container.
import { stringify } from "yaml";

export interface Workload {
  readonly kind: "Deployment" | "StatefulSet" | "DaemonSet";
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  /** Not for a DaemonSet. */
  readonly replicas?: number;
  /** Pod labels besides `app: <name>`. */
  readonly podLabels?: Record<string, string>;
  readonly nodeSelector?: Record<string, string>;
}

export function workloadYaml(w: Workload): string {
  const labels = { app: w.name };
  return stringify({
    apiVersion: "apps/v1",
    kind: w.kind,
    metadata: { name: w.name, namespace: w.namespace },
    spec: {
      ...(w.kind === "StatefulSet" ? { serviceName: w.name } : {}),
      ...(w.kind === "DaemonSet" ? {} : { replicas: w.replicas ?? 1 }),
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...labels, ...w.podLabels } },
        spec: { ...(w.nodeSelector ? { nodeSelector: w.nodeSelector } : {}), containers: [{ name: w.name, image: w.image }] },
      },
    },
  });
}

/** Several workloads as one multi-document YAML. */
export const workloadsYaml = (ws: readonly Workload[]): string => ws.map(workloadYaml).join("---\n");
