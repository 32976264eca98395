// The one definition of the Envoy access-log record: the mesh's log format (JSON keys and
// Envoy command operators), the fields Fluentd types and Elasticsearch maps come from here.

export type EsType = "keyword" | "long" | "date" | "ip" | "text";

export interface AccessLogField {
  /** JSON key in the log line and field name in Elasticsearch (under `access`). */
  readonly name: string;
  /** Envoy command operator that fills it. */
  readonly envoy: string;
  readonly type: EsType;
}

export const ACCESS_LOG_FIELDS: readonly AccessLogField[] = [
  { name: "start_time", envoy: "%START_TIME%", type: "date" },
  { name: "method", envoy: "%REQ(:METHOD)%", type: "keyword" },
  { name: "path", envoy: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", type: "keyword" },
  { name: "protocol", envoy: "%PROTOCOL%", type: "keyword" },
  { name: "response_code", envoy: "%RESPONSE_CODE%", type: "long" },
  { name: "response_flags", envoy: "%RESPONSE_FLAGS%", type: "keyword" },
  { name: "response_code_details", envoy: "%RESPONSE_CODE_DETAILS%", type: "keyword" },
  { name: "bytes_received", envoy: "%BYTES_RECEIVED%", type: "long" },
  { name: "bytes_sent", envoy: "%BYTES_SENT%", type: "long" },
  { name: "duration", envoy: "%DURATION%", type: "long" },
  { name: "upstream_service_time", envoy: "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", type: "long" },
  { name: "x_forwarded_for", envoy: "%REQ(X-FORWARDED-FOR)%", type: "keyword" },
  { name: "user_agent", envoy: "%REQ(USER-AGENT)%", type: "keyword" },
  { name: "request_id", envoy: "%REQ(X-REQUEST-ID)%", type: "keyword" },
  { name: "trace_id", envoy: "%REQ(X-B3-TRACEID)%", type: "keyword" },
  { name: "authority", envoy: "%REQ(:AUTHORITY)%", type: "keyword" },
  { name: "upstream_host", envoy: "%UPSTREAM_HOST%", type: "keyword" },
  { name: "upstream_cluster", envoy: "%UPSTREAM_CLUSTER%", type: "keyword" },
  { name: "upstream_transport_failure_reason", envoy: "%UPSTREAM_TRANSPORT_FAILURE_REASON%", type: "keyword" },
  { name: "downstream_remote_address", envoy: "%DOWNSTREAM_REMOTE_ADDRESS%", type: "keyword" },
  { name: "route_name", envoy: "%ROUTE_NAME%", type: "keyword" },
];

/** meshConfig.accessLogFormat for JSON encoding: one JSON object per line. */
export function envoyAccessLogFormat(fields: readonly AccessLogField[] = ACCESS_LOG_FIELDS): string {
  return JSON.stringify(Object.fromEntries(fields.map((f) => [f.name, f.envoy]))) + "\n";
}
