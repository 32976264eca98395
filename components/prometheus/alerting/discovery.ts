// The `alerting:` section of prometheus.yml: every Alertmanager pod is discovered (endpoint
// slices of its headless Service), not one Service address, so each replica gets every alert
// and the gossip cluster deduplicates; the Prometheus replica label is dropped from alerts, so
// two Prometheus replicas send the same alert, not two.

export interface AlertmanagerTarget {
  /** Namespace of the Alertmanager pods. */
  readonly namespace: string;
  /** Name of their headless Service. */
  readonly service: string;
  /** Name of the Service port of the HTTP API. */
  readonly portName: string;
}

export interface AlertingSection {
  readonly alert_relabel_configs: readonly { readonly action: "labeldrop"; readonly regex: string }[];
  readonly alertmanagers: readonly Record<string, unknown>[];
}

/** `replicaLabel`: the external label that tells Prometheus replicas apart, no part of an alert's identity. */
export function alertingSection(t: AlertmanagerTarget, replicaLabel: string): AlertingSection {
  return {
    alert_relabel_configs: [{ action: "labeldrop", regex: replicaLabel }],
    alertmanagers: [
      {
        api_version: "v2",
        kubernetes_sd_configs: [{ role: "endpointslice", namespaces: { names: [t.namespace] } }],
        relabel_configs: [
          { action: "keep", source_labels: ["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"], regex: `${t.service};${t.portName}` },
          // The headless Service publishes pods before they are ready (gossip needs that); alerts go to ready ones.
          { action: "keep", source_labels: ["__meta_kubernetes_endpointslice_endpoint_conditions_ready"], regex: "true" },
        ],
      },
    ],
  };
}
