// alertmanager.yml as data, from the typed `obs:alerting` section. Secrets never appear in it:
// every receiver reads its URL, key or password from a file (`*_file` fields) that the pod
// mounts from a Kubernetes Secret, so the config itself can live in a ConfigMap.
import { stringify } from "yaml";
import { ALERTS } from "../rules.js";
import { type AlertingConfig, type ChildRoute, NULL_RECEIVER, RECEIVER_SECRET, type ReceiverConfig } from "./config.js";

/** Where the receivers' secret files are mounted in the Alertmanager pod. */
export const SECRETS_DIR = "/etc/alertmanager/secrets";

/** The file (and Secret key) holding a receiver's secret. */
export const secretFileName = (receiver: string, r: Pick<ReceiverConfig, "type">) => `${receiver}.${RECEIVER_SECRET[r.type]}`;

/** Alerts an IstiodDown of the same revision explains: while it fires they are held back. */
export const INHIBITED_BY_ISTIOD_DOWN = [ALERTS.injectionFailures, ALERTS.xdsPushErrors, ALERTS.xdsRejects] as const;

type Obj = Record<string, unknown>;

export interface AlertmanagerRoute {
  receiver?: string;
  matchers?: string[];
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  continue?: boolean;
  routes?: AlertmanagerRoute[];
}

export interface AlertmanagerFile {
  global: Obj;
  route: AlertmanagerRoute;
  inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
  receivers: ({ name: string } & Obj)[];
  templates: string[];
}

const anyOf = (label: string, values: readonly string[]) => (values.length === 1 ? `${label}="${values[0]}"` : `${label}=~"${values.join("|")}"`);

// The text of Slack and email notifications: each alert's description and the runbook to follow.
const TITLE = '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}';
const TEXT = "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}";

function receiverEntry(name: string, r: ReceiverConfig, secretsDir: string): { name: string } & Obj {
  const file = `${secretsDir}/${secretFileName(name, r)}`;
  const common = { send_resolved: r.sendResolved };
  switch (r.type) {
    case "webhook":
      return { name, webhook_configs: [{ ...common, url_file: file }] };
    case "slack":
      return { name, slack_configs: [{ ...common, api_url_file: file, channel: r.channel, title: TITLE, text: TEXT }] };
    case "pagerduty":
      return {
        name,
        pagerduty_configs: [{ ...common, routing_key_file: file, ...(r.eventsUrl ? { url: r.eventsUrl } : {}), severity: '{{ if .CommonLabels.severity }}{{ .CommonLabels.severity }}{{ else }}critical{{ end }}', description: TITLE, links: [{ href: "{{ (index .Alerts 0).Annotations.runbook_url }}", text: "Runbook" }] }],
      };
    case "email":
      return {
        name,
        email_configs: [{ ...common, to: r.to, from: r.from, smarthost: r.smarthost, require_tls: r.requireTls, ...(r.authUsername ? { auth_username: r.authUsername, auth_password_file: file } : {}), headers: { Subject: TITLE } }],
      };
  }
}

function childRoute(r: ChildRoute): AlertmanagerRoute {
  const matchers = [...(r.alertnames.length ? [anyOf("alertname", r.alertnames)] : []), ...(r.severity.length ? [anyOf("severity", r.severity)] : []), ...(r.namespaces.length ? [anyOf("namespace", r.namespaces)] : [])];
  return { receiver: r.receiver, matchers, ...(r.continue ? { continue: true } : {}), ...(r.groupWait ? { group_wait: r.groupWait } : {}), ...(r.repeatInterval ? { repeat_interval: r.repeatInterval } : {}) };
}

export interface AlertmanagerConfigInput {
  readonly config: AlertingConfig;
  /** Where the secret files are (the pod's mount; a test passes its own directory). */
  readonly secretsDir?: string;
}

export function buildAlertmanagerConfig(input: AlertmanagerConfigInput): AlertmanagerFile {
  const { config: c } = input;
  const secretsDir = input.secretsDir ?? SECRETS_DIR;
  return {
    global: { resolve_timeout: "5m" },
    route: {
      receiver: c.route.receiver || NULL_RECEIVER,
      group_by: [...c.route.groupBy],
      group_wait: c.route.groupWait,
      group_interval: c.route.groupInterval,
      repeat_interval: c.route.repeatInterval,
      routes: [
        // First, and never continuing: Watchdog is a heartbeat for the switch, not news for people.
        { receiver: c.deadMansSwitch.receiver || NULL_RECEIVER, matchers: [`alertname="${ALERTS.watchdog}"`], group_wait: "0s", group_interval: "1m", repeat_interval: c.deadMansSwitch.repeatInterval },
        ...c.route.routes.map(childRoute),
      ],
    },
    inhibit_rules: [
      // The revision's istiod is down: its injection failures, xDS errors and target are symptoms.
      { source_matchers: [`alertname="${ALERTS.istiodDown}"`], target_matchers: [anyOf("alertname", INHIBITED_BY_ISTIOD_DOWN)], equal: ["revision"] },
      { source_matchers: [`alertname="${ALERTS.istiodDown}"`], target_matchers: [`alertname="${ALERTS.targetDown}"`, 'job="istiod"'], equal: ["revision"] },
      // A critical alert holds back a warning of the same name and place.
      { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "namespace", "revision"] },
    ],
    receivers: [{ name: NULL_RECEIVER }, ...Object.entries(c.receivers).map(([name, r]) => receiverEntry(name, r, secretsDir))],
    templates: [],
  };
}

export function renderAlertmanagerYaml(input: AlertmanagerConfigInput): string {
  return stringify(buildAlertmanagerConfig(input), { lineWidth: 0, aliasDuplicateObjects: false });
}

/** The Secret's data: one entry per receiver secret, named as the config's `*_file` fields expect. */
export function receiverSecretFiles(config: AlertingConfig, secrets: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, r] of Object.entries(config.receivers)) {
    const v = secrets[name];
    if (v !== undefined) out[secretFileName(name, r)] = v;
  }
  return out;
}
