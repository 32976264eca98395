// Object names and in-cluster addresses of one EFK instance; configs refer to these, so they
// are fixed names (not Pulumi auto-names) derived from the component's name.
import { podHost, serviceHost } from "../k8s/hosts.js";

export const ES_IMAGE = "docker.elastic.co/elasticsearch/elasticsearch:8.19.5";
export const KIBANA_IMAGE = "docker.elastic.co/kibana/kibana:8.19.5";
export const FLUENTD_IMAGE = "fluent/fluentd-kubernetes-daemonset:v1.18.0-debian-elasticsearch8-1.0";
export const ES_EXPORTER_IMAGE = "prometheuscommunity/elasticsearch-exporter:v1.9.0";
/** Exports x509_cert_not_after of the certificate files it watches (the CertificateExpiringSoon alert). */
export const CERT_EXPORTER_IMAGE = "enix/x509-certificate-exporter:3.19.1";
/** Holds the max_map_count DaemonSet's pods once their init container has set the sysctl. */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";

export const ES_HTTP_PORT = 9200;
export const ES_TRANSPORT_PORT = 9300;
export const KIBANA_PORT = 5601;
/** elasticsearch-exporter's registered port (its /metrics and /healthz). */
export const ES_EXPORTER_PORT = 9114;
/** x509-certificate-exporter's default port (/metrics). */
export const CERT_EXPORTER_PORT = 9793;

/** Write aliases Fluentd sends to; ILM rolls the indices behind them. */
export const ACCESS_ALIAS = "envoy-access";
export const LOGS_ALIAS = "k8s-logs";

/** Every index Fluentd writes: the write aliases and the indices ILM rolls behind them. */
export const LOG_INDICES: readonly string[] = [ACCESS_ALIAS, `${ACCESS_ALIAS}-*`, LOGS_ALIAS, `${LOGS_ALIAS}-*`];

/** Elasticsearch users the bootstrap Job manages besides `elastic`. */
export const FLUENTD_USER = "fluentd";
export const KIBANA_USER = "kibana_system";
/** The superuser whose password the bootstrap Job sets from obs:logging.elasticPassword. */
export const ELASTIC_USER = "elastic";
/** File-realm superuser of the bootstrap Job and the probes (certs.sh creates it once, with a random password). */
export const INTERNAL_USER = "obs-internal";
/** elasticsearch-exporter's user: cluster and index monitoring, no data. */
export const MONITORING_USER = "monitoring";
/** Grafana's user: reads the log indices, nothing else. */
export const GRAFANA_USER = "grafana";

export interface LoggingNames {
  readonly es: string;
  readonly esHeadless: string;
  readonly esHttp: string;
  readonly esConfig: string;
  /** Node certificate, key and CA; written once by the certs Job, read by Elasticsearch only. */
  readonly esCerts: string;
  /** The CA certificate alone, for clients (Fluentd, Kibana, the bootstrap Job). */
  readonly esCa: string;
  /** The CA certificate and key: read by the certs Job only, to renew the node certificate. */
  readonly esCaKey: string;
  /** INTERNAL_USER's password and the file-realm files Elasticsearch mounts. */
  readonly esInternal: string;
  readonly certExporter: string;
  /** The privileged DaemonSet raising vm.max_map_count (in Fluentd's namespace). */
  readonly maxMapCount: string;
  readonly elasticCredentials: string;
  readonly kibanaCredentials: string;
  readonly fluentdCredentials: string;
  readonly monitoringCredentials: string;
  readonly grafanaCredentials: string;
  readonly bootstrap: string;
  readonly fluentd: string;
  readonly kibana: string;
  readonly esExporter: string;
}

export function loggingNames(name: string): LoggingNames {
  return {
    es: `${name}-es`,
    esHeadless: `${name}-es-headless`,
    esHttp: `${name}-es-http`,
    esConfig: `${name}-es-config`,
    esCerts: `${name}-es-certs`,
    esCa: `${name}-es-ca`,
    esCaKey: `${name}-es-ca-key`,
    esInternal: `${name}-es-internal`,
    certExporter: `${name}-es-cert-exporter`,
    maxMapCount: `${name}-es-max-map-count`,
    elasticCredentials: `${name}-es-elastic`,
    kibanaCredentials: `${name}-kibana-credentials`,
    fluentdCredentials: `${name}-fluentd-credentials`,
    monitoringCredentials: `${name}-es-monitoring-credentials`,
    grafanaCredentials: `${name}-es-grafana-credentials`,
    bootstrap: `${name}-es-bootstrap`,
    fluentd: `${name}-fluentd`,
    kibana: `${name}-kibana`,
    esExporter: `${name}-es-exporter`,
  };
}

/** Service DNS name clients use (a SAN of the HTTP certificate). */
export const esHttpHost = (n: LoggingNames, namespace: string, clusterDomain: string) => serviceHost(n.esHttp, namespace, clusterDomain);
export const esUrl = (n: LoggingNames, namespace: string, clusterDomain: string) => `https://${esHttpHost(n, namespace, clusterDomain)}:${ES_HTTP_PORT}`;

/** Stable DNS names of the StatefulSet's pods, through the headless Service. */
export function esPodHosts(n: LoggingNames, namespace: string, clusterDomain: string, nodes: number): string[] {
  return Array.from({ length: nodes }, (_, i) => podHost(n.es, i, n.esHeadless, namespace, clusterDomain));
}
