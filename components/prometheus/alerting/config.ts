// The `obs:alerting` config section: Alertmanager's size, its receivers and routes, and the
// receivers' secrets (URLs, keys, passwords), which are taken out of the section before the
// schema parses it and reach the cluster only as a Kubernetes Secret. Pure: no Pulumi imports.
import { bool, DNS_LABEL, type Infer, type Issue, list, num, obj, oneOf, record, resources, type Shape, str, storageClassName, volumeSize } from "../../../lib/schema.js";
import { setSecretCommand } from "../../../lib/secrets.js";
import { durationMs } from "../../../lib/units.js";
import { RUNBOOKS_URL } from "../rules.js";
import { allFlows, type NetworkPolicyConfig } from "../../mesh/flows.js";

const KEY = "obs:alerting";
const DURATION = /^[0-9]+(ms|s|m|h|d|w|y)$/;
const DURATION_DOC = "a Prometheus duration: a number and one unit of ms, s, m, h, d, w, y (e.g. 30s, 4h)";
const duration = (doc: string, def: string) => str({ doc, default: def, pattern: DURATION, patternDoc: DURATION_DOC });
const optionalDuration = (doc: string) => str({ doc, default: "", pattern: new RegExp(`^$|${DURATION.source}`), patternDoc: `${DURATION_DOC}, or empty` });
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const RECEIVER_TYPES = ["webhook", "slack", "pagerduty", "email"] as const;
export type ReceiverType = (typeof RECEIVER_TYPES)[number];

/** The one secret of each receiver type: set with `pulumi config set --secret --path obs:alerting.receivers.<name>.<key>`. */
export const RECEIVER_SECRET: Readonly<Record<ReceiverType, string>> = { webhook: "url", slack: "apiUrl", pagerduty: "routingKey", email: "authPassword" };

/** The receiver every route falls back to when none is named: no notifier, alerts stay visible in Alertmanager. */
export const NULL_RECEIVER = "null";

export const SEVERITIES = ["critical", "warning", "none"] as const;

const receiver = obj(
  {
    type: oneOf(RECEIVER_TYPES, { doc: "webhook, slack, pagerduty or email; its secret is url, apiUrl, routingKey or authPassword (email: only with authUsername)" }),
    sendResolved: bool({ doc: "also notify when the alert resolves", default: true }),
    channel: str({ doc: "slack: the channel, e.g. #platform-alerts (required for slack)", default: "" }),
    to: str({ doc: "email: recipient address(es), comma-separated (required for email)", default: "" }),
    from: str({ doc: "email: sender address (required for email)", default: "" }),
    smarthost: str({ doc: "email: SMTP server as host:port (required for email)", default: "", pattern: /^$|^[A-Za-z0-9.-]+:[0-9]{1,5}$/, patternDoc: "host:port" }),
    authUsername: str({ doc: "email: SMTP user; with it the secret authPassword is required", default: "" }),
    requireTls: bool({ doc: "email: require STARTTLS", default: true }),
    eventsUrl: str({ doc: "pagerduty: Events API v2 URL (empty: PagerDuty's default)", default: "", pattern: /^$|^https?:\/\/\S+$/, patternDoc: "an http(s) URL or empty" }),
  },
  { doc: "a receiver", optional: false },
);

const childRoute = obj(
  {
    receiver: str({ doc: "receiver of the alerts this route matches (a key of receivers)" }),
    severity: list(oneOf(SEVERITIES, { doc: "severity" }), { doc: "match alerts with one of these severity labels (empty: any)", default: [] }),
    namespaces: list(str({ doc: "namespace", pattern: DNS_LABEL, patternDoc: "a namespace name (DNS-1123 label)" }), { doc: "match alerts whose namespace label is one of these (empty: any)", default: [] }),
    alertnames: list(str({ doc: "alert name", pattern: LABEL_NAME, patternDoc: "an alert name" }), { doc: "match these alert names (empty: any)", default: [] }),
    continue: bool({ doc: "keep matching later routes after this one matched (e.g. page and post to a channel)", default: false }),
    groupWait: optionalDuration("wait before the first notification of a new group (empty: the parent's)"),
    repeatInterval: optionalDuration("resend a still-firing group after this (empty: the parent's)"),
  },
  { doc: "a route", optional: false },
);

const shape = {
  enabled: bool({ doc: "deploy Alertmanager and point Prometheus at it (needs obs:prometheus.enabled)", default: true }),
  replicas: num({ doc: "Alertmanager replicas: 1, or 3+ in a gossip cluster that deduplicates notifications (a PodDisruptionBudget keeps a majority up)", default: 1, min: 1, max: 5, integer: true }),
  retention: duration("how long silences and the notification log are kept (`--data.retention`)", "120h"),
  storageSize: volumeSize({ doc: "volume per replica for silences and the notification log", default: "1Gi" }),
  storageClass: storageClassName({ doc: "StorageClass of the volume (empty: the cluster default)", default: "" }),
  resources: resources("Alertmanager resources", { cpu: "50m", memory: "64Mi" }, { cpu: "500m", memory: "256Mi" }),
  receivers: record(receiver, { doc: "receivers by name; each one's URL, key or password is a secret under the same key", default: {}, keyDoc: "a receiver name (DNS-1123 label, not `null`)", keyPattern: DNS_LABEL }),
  route: obj(
    {
      receiver: str({ doc: `receiver of every alert no child route takes (empty: \`${NULL_RECEIVER}\`, no notification)`, default: "" }),
      groupBy: list(str({ doc: "label", pattern: LABEL_NAME, patternDoc: "a label name" }), { doc: "labels that group alerts into one notification", default: ["alertname", "namespace", "revision"] }),
      groupWait: duration("wait before the first notification of a new group, to collect its alerts", "30s"),
      groupInterval: duration("wait before notifying a group again about alerts added to it", "5m"),
      repeatInterval: duration("resend a still-firing group after this", "4h"),
      routes: list(childRoute, { doc: "child routes, first match wins unless continue", default: [] }),
    },
    { doc: "the routing tree" },
  ),
  deadMansSwitch: obj(
    {
      receiver: str({ doc: "receiver of the always-firing Watchdog alert (a dead man's switch service notices when it stops); empty: Watchdog goes nowhere", default: "" }),
      repeatInterval: duration("how often Watchdog is sent again (the switch's expected period must be longer)", "5m"),
    },
    { doc: "Watchdog: proof that the pipeline from Prometheus to the receivers works" },
  ),
  runbookUrl: str({ doc: "where docs/runbooks.md is published: every alert's runbook_url is this plus `#<alert name in lowercase>` (your fork's copy, or a wiki page with the same sections); the default is the file's path in this repository, which is not a link until you set this", default: RUNBOOKS_URL, pattern: /^(?:https?:\/\/[^\s#]+|[\w.\/-]+)$/, patternDoc: "an http(s) URL or a path, without a #fragment" }),
} satisfies Shape;

export const alertingSchema = obj(shape, { doc: "Alertmanager: receivers, routes, inhibitions and the Watchdog dead man's switch" });
export type AlertingConfig = Infer<typeof shape>;
export type ReceiverConfig = AlertingConfig["receivers"][string];
export type ChildRoute = AlertingConfig["route"]["routes"][number];

/** Receiver name -> its secret value. */
export type AlertingSecrets = Readonly<Record<string, string>>;

/**
 * Takes each receiver's secret out of the raw section. A missing secret (unless the section says
 * `enabled: false`) or one that is not a string is an issue naming the key, never the value.
 */
export function takeAlertingSecrets(raw: unknown, issues: Issue[]): { rest: unknown; secrets: AlertingSecrets } {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return { rest: raw, secrets: {} };
  const section = raw as Record<string, unknown>;
  const receivers = section.receivers;
  if (!receivers || typeof receivers !== "object" || Array.isArray(receivers)) return { rest: raw, secrets: {} };
  const secrets: Record<string, string> = {};
  const rest: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(receivers as Record<string, unknown>)) {
    if (!r || typeof r !== "object" || Array.isArray(r)) {
      rest[name] = r;
      continue;
    }
    const copy = { ...(r as Record<string, unknown>) };
    const type = copy.type as ReceiverType;
    const secretKey = RECEIVER_SECRET[type];
    // Every secret key leaves the section, so no error message can repeat one (a wrong type included).
    for (const k of new Set(Object.values(RECEIVER_SECRET))) {
      if (!(k in copy)) continue;
      const v = copy[k];
      delete copy[k];
      const at = `${KEY}.receivers.${name}.${k}`;
      if (!secretKey) continue;
      if (k !== secretKey) issues.push({ key: at, value: "(secret)", allowed: `not a key of a ${type} receiver (its secret is ${secretKey})` });
      else if (typeof v === "string") secrets[name] = v;
      else issues.push({ key: at, value: "(secret)", allowed: `a string (set it with \`${setSecretCommand(at, "<value>")}\`)` });
    }
    rest[name] = copy;
    const disabled = section.enabled === false || section.enabled === "false";
    const at = `${KEY}.receivers.${name}.${secretKey}`;
    if (secretKey && !disabled && secrets[name] === undefined && !issues.some((i) => i.key === at) && (type !== "email" || !!copy.authUsername)) {
      issues.push({ key: at, value: undefined, allowed: `required for ${type === "email" ? "an" : "a"} ${type} receiver: a secret (${setSecretCommand(at, "<value>")})` });
    }
  }
  return { rest: { ...section, receivers: rest }, secrets };
}

/** The secret paths a raw section's receivers need, for placeholders where no secret is decrypted (offline render). */
export function receiverSecretPaths(raw: unknown): string[] {
  const receivers = (raw as { receivers?: Record<string, { type?: string; authUsername?: string }> } | undefined)?.receivers;
  if (!receivers || typeof receivers !== "object") return [];
  return Object.entries(receivers).flatMap(([name, r]) => {
    const key = RECEIVER_SECRET[r?.type as ReceiverType];
    if (!key || (r.type === "email" && !r.authUsername)) return [];
    return [`receivers.${name}.${key}`];
  });
}

/** A raw section with every receiver's secret replaced by a valid placeholder, for an offline render (no secret is decrypted there). */
export function withReceiverPlaceholders(raw: unknown): unknown {
  const receivers = (raw as { receivers?: unknown } | undefined)?.receivers;
  if (!receivers || typeof receivers !== "object" || Array.isArray(receivers)) return raw;
  const out: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(receivers as Record<string, Record<string, unknown>>)) {
    out[name] = r;
    if (!receiverSecretPaths({ receivers: { [name]: r } }).length) continue;
    const key = RECEIVER_SECRET[r.type as ReceiverType];
    out[name] = { ...r, [key]: key === "url" || key === "apiUrl" ? "https://rendered-offline-placeholder.invalid/" : "rendered-offline-placeholder" };
  }
  return { ...(raw as object), receivers: out };
}

/** Checks spanning keys: every receiver has what its type needs, every route names a known receiver. */
export function checkAlerting(c: AlertingConfig, secrets: AlertingSecrets, ctx: { prometheusEnabled: boolean }, issues: Issue[]): void {
  if (!c.enabled) return;
  if (!ctx.prometheusEnabled) issues.push({ key: `${KEY}.enabled`, value: true, allowed: "false while obs:prometheus.enabled is false (the alerts come from Prometheus's rules)" });
  if (c.replicas === 2) issues.push({ key: `${KEY}.replicas`, value: 2, allowed: "1, or 3 or more (a gossip cluster of two loses its majority with either pod; the PodDisruptionBudget keeps a majority up)" });
  for (const [name, r] of Object.entries(c.receivers)) {
    const at = `${KEY}.receivers.${name}`;
    if (name === NULL_RECEIVER) issues.push({ key: at, value: name, allowed: `a receiver name other than ${NULL_RECEIVER} (the built-in receiver that notifies no one)` });
    if (r.type === "slack" && !r.channel) issues.push({ key: `${at}.channel`, value: r.channel, allowed: "a channel name such as #alerts (required for a slack receiver)" });
    if (r.type === "email") {
      for (const k of ["to", "from", "smarthost"] as const) if (!r[k]) issues.push({ key: `${at}.${k}`, value: r[k], allowed: `required for an email receiver (${k === "smarthost" ? "host:port" : "an address"})` });
    }
  }
  const known = [...Object.keys(c.receivers), NULL_RECEIVER];
  const knownDoc = `one of the receivers: ${known.join(", ")}`;
  if (c.route.receiver && !known.includes(c.route.receiver)) issues.push({ key: `${KEY}.route.receiver`, value: c.route.receiver, allowed: knownDoc });
  c.route.routes.forEach((r, i) => {
    if (!known.includes(r.receiver)) issues.push({ key: `${KEY}.route.routes[${i}].receiver`, value: r.receiver, allowed: knownDoc });
    if (!r.severity.length && !r.namespaces.length && !r.alertnames.length) issues.push({ key: `${KEY}.route.routes[${i}]`, value: r, allowed: "a route with at least one of severity, namespaces, alertnames (a route matching everything belongs in route.receiver)" });
  });
  if (c.deadMansSwitch.receiver && !known.includes(c.deadMansSwitch.receiver)) issues.push({ key: `${KEY}.deadMansSwitch.receiver`, value: c.deadMansSwitch.receiver, allowed: knownDoc });
  for (const [k, v] of [
    ["route.groupWait", c.route.groupWait],
    ["route.groupInterval", c.route.groupInterval],
    ["route.repeatInterval", c.route.repeatInterval],
    ["deadMansSwitch.repeatInterval", c.deadMansSwitch.repeatInterval],
  ] as const) {
    if (durationMs(v, `${KEY}.${k}`, issues) === 0 && k !== "route.groupWait") issues.push({ key: `${KEY}.${k}`, value: v, allowed: "a duration above 0" });
  }
}

/**
 * Under the stack's network policies Alertmanager reaches outside the cluster on the flows table's
 * ports only (443, and obs:networkPolicy.extraFlows): an email receiver's SMTP port must be one
 * of them, or its mail would never leave. (Webhook, Slack and PagerDuty URLs are secrets: not read here.)
 */
export function checkReceiverEgress(c: AlertingConfig, np: NetworkPolicyConfig, issues: Issue[]): void {
  if (!c.enabled || !np.enabled) return;
  const out = allFlows(np.extraFlows).filter((f) => f.from === "alertmanager" && f.to === "external");
  if (out.some((f) => f.ports.length === 0)) return;
  const open = [...new Set(out.flatMap((f) => f.ports.filter((p) => (p.protocol ?? "TCP") === "TCP").map((p) => p.port)))].sort((a, b) => a - b);
  for (const [name, r] of Object.entries(c.receivers)) {
    if (r.type !== "email") continue;
    const port = Number(r.smarthost.split(":").pop());
    if (!open.includes(port)) {
      issues.push({ key: `${KEY}.receivers.${name}.smarthost`, value: r.smarthost, allowed: `a port the network policies let Alertmanager reach (open: ${open.join(", ")}), or open ${port}: obs:networkPolicy.extraFlows: [{from: alertmanager, to: external, ports: [${port}]}]` });
    }
  }
}

/** Parses and cross-checks a raw `obs:alerting` value (secrets still in it, decrypted); every problem is reported. */
export function parseAlertingConfig(raw: unknown, ctx: { prometheusEnabled: boolean } = { prometheusEnabled: true }): { config: AlertingConfig | undefined; secrets: AlertingSecrets; issues: Issue[] } {
  const issues: Issue[] = [];
  const { rest, secrets } = takeAlertingSecrets(raw, issues);
  const config = alertingSchema.parse(rest, KEY, issues);
  if (config && issues.length === 0) checkAlerting(config, secrets, ctx, issues);
  return { config: issues.length ? undefined : config, secrets, issues };
}
