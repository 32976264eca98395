// What the alert pipeline test's tiny HTTP server exposes, in Prometheus's text format, shaped
// like the real things:
// - istiod (Istio 1.30/1.31 source): `pilot_xds_pushes` by `type`, the failed sends being
//   `<cds|eds|lds|rds>_senderr` (pilot/pkg/xds/monitoring.go), `pilot_total_xds_internal_errors`,
//   and the unlabelled injection counters `sidecar_injection_requests_total`,
//   `sidecar_injection_failure_total` (pkg/kube/inject/monitoring.go).
// - Envoy's Istio standard metrics as a sidecar reports them on its merged 15020 endpoint:
//   `istio_requests_total` and `istio_request_duration_milliseconds` with the label set of
//   Istio's telemetry (reporter, source_*/destination_* workload, app, version, principal,
//   canonical service and revision, cluster, service, request_protocol, response_code,
//   grpc_response_status, response_flags, connection_security_policy).
// Counters grow with time at the given rate, so Prometheus's rate() sees them as a live process.

type Labels = Record<string, string>;

const fmt = (labels: Labels) => `{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`;

export interface Counter {
  readonly name: string;
  readonly help: string;
  readonly labels: Labels;
  /** increase per second */
  readonly perSecond: number;
  /** The histogram a _bucket/_sum/_count series belongs to; else the series is its own counter family. */
  readonly histogram?: string;
}

/** Exposition text of counters that started at `t0` and grow at their rate. */
export function exposition(counters: readonly Counter[], t0: number, now = Date.now()): string {
  const seconds = (now - t0) / 1000;
  const byName = new Map<string, Counter[]>();
  for (const c of counters) byName.set(c.histogram ?? c.name, [...(byName.get(c.histogram ?? c.name) ?? []), c]);
  const lines: string[] = [];
  for (const [family, cs] of byName) {
    lines.push(`# HELP ${family} ${cs[0]!.help}`, `# TYPE ${family} ${cs[0]!.histogram ? "histogram" : "counter"}`);
    for (const c of cs) lines.push(`${c.name}${fmt(c.labels)} ${Math.floor(c.perSecond * seconds)}`);
  }
  return lines.join("\n") + "\n";
}

/** An istiod of a revision: pushing fine, or failing its sends and injections. */
export function istiodCounters(failing: boolean): Counter[] {
  const pushes = (type: string, perSecond: number): Counter => ({ name: "pilot_xds_pushes", help: "Pilot build and send errors for lds, rds, cds and eds.", labels: { type }, perSecond });
  return [
    pushes("cds", 2),
    pushes("eds", 5),
    pushes("lds", 2),
    pushes("rds", 2),
    pushes("cds_senderr", failing ? 1 : 0),
    pushes("eds_senderr", failing ? 2 : 0),
    { name: "pilot_total_xds_internal_errors", help: "Total number of internal XDS errors in pilot.", labels: {}, perSecond: 0 },
    { name: "sidecar_injection_requests_total", help: "Total number of sidecar injection requests.", labels: {}, perSecond: 1 },
    { name: "sidecar_injection_failure_total", help: "Total number of failed sidecar injection requests.", labels: {}, perSecond: failing ? 1 : 0 },
  ];
}

const CLUSTER = "Kubernetes";

function workload(ns: string, name: string, app: string): Labels {
  return { workload: name, workload_namespace: ns, app, version: "v1", canonical_service: app, canonical_revision: "v1", principal: `spiffe://cluster.local/ns/${ns}/sa/bookinfo-${app}`, cluster: CLUSTER };
}

const side = (prefix: "source" | "destination", w: Labels) => Object.fromEntries(Object.entries(w).map(([k, v]) => [`${prefix}_${k}`, v]));

/** Requests to `dest` as its own sidecar reports them (reporter="destination"), from productpage. */
export function requestCounters(ns: string, dest: string, app: string, byCode: Record<string, number>): Counter[] {
  const labels = (code: string): Labels => ({
    reporter: "destination",
    ...side("source", workload(ns, "productpage-v1", "productpage")),
    ...side("destination", workload(ns, dest, app)),
    destination_service: `${app}.${ns}.svc.cluster.local`,
    destination_service_name: app,
    destination_service_namespace: ns,
    request_protocol: "http",
    response_code: code,
    grpc_response_status: "",
    response_flags: code.startsWith("5") ? "URX" : "-",
    connection_security_policy: "mutual_tls",
  });
  return Object.entries(byCode).map(([code, perSecond]) => ({ name: "istio_requests_total", help: "Total requests.", labels: labels(code), perSecond }));
}

/** istio_request_duration_milliseconds buckets of `dest`: cumulative requests/s per upper bound. */
export function durationHistogram(ns: string, dest: string, app: string, cumulativePerSecond: Record<string, number>, meanMs: number): Counter[] {
  const histogram = "istio_request_duration_milliseconds";
  const help = "Duration of requests in milliseconds.";
  const labels: Labels = { reporter: "destination", ...side("source", workload(ns, "productpage-v1", "productpage")), ...side("destination", workload(ns, dest, app)), destination_service: `${app}.${ns}.svc.cluster.local`, destination_service_name: app, destination_service_namespace: ns, request_protocol: "http", response_code: "200", grpc_response_status: "", response_flags: "-", connection_security_policy: "mutual_tls" };
  const total = cumulativePerSecond["+Inf"]!;
  return [
    ...Object.entries(cumulativePerSecond).map(([le, perSecond]) => ({ name: `${histogram}_bucket`, histogram, help, labels: { ...labels, le }, perSecond })),
    { name: `${histogram}_sum`, histogram, help, labels, perSecond: total * meanMs },
    { name: `${histogram}_count`, histogram, help, labels, perSecond: total },
  ];
}
