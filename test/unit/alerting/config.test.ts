// obs:alerting bad input: every problem named by key with what is allowed, secrets never echoed.
import { describe, expect, it } from "vitest";
import { parseAlertingConfig, receiverSecretPaths, withReceiverPlaceholders } from "../../../components/prometheus/alerting/config.js";
import { problems } from "../config-problems.js";
import { RUNBOOKS_URL } from "../../../components/prometheus/rules.js";

const base = () => ({ kubernetes: { context: "dev" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: { revisions: [{ name: "1-30", version: "1.30" }] } });
const issues = (raw: unknown, prometheusEnabled = true) => parseAlertingConfig(raw, { prometheusEnabled }).issues.map((i) => `${i.key} = ${JSON.stringify(i.value)}: ${i.allowed}`);

describe("obs:alerting", () => {
  it("defaults: enabled, one replica, no receivers, alerts go to the built-in null receiver", () => {
    const { config, issues } = parseAlertingConfig({});
    expect(issues).toEqual([]);
    expect(config).toMatchObject({ enabled: true, replicas: 1, retention: "120h", receivers: {}, route: { receiver: "", groupBy: ["alertname", "namespace", "revision"], groupWait: "30s", groupInterval: "5m", repeatInterval: "4h", routes: [] }, deadMansSwitch: { receiver: "", repeatInterval: "5m" } });
  });

  it("takes each receiver's secret out of the section", () => {
    const { config, secrets, issues } = parseAlertingConfig({ receivers: { hook: { type: "webhook", url: "https://hooks.example.com/x?token=s3cr3t" }, pd: { type: "pagerduty", routingKey: "pd-key-123" } } });
    expect(issues).toEqual([]);
    expect(secrets).toEqual({ hook: "https://hooks.example.com/x?token=s3cr3t", pd: "pd-key-123" });
    expect(JSON.stringify(config)).not.toContain("s3cr3t");
    expect(JSON.stringify(config)).not.toContain("pd-key-123");
  });

  it("a receiver without its secret names the key and the command that sets it", () => {
    expect(issues({ receivers: { oncall: { type: "pagerduty" } }, route: { receiver: "oncall" } })).toEqual([
      "obs:alerting.receivers.oncall.routingKey = undefined: required for a pagerduty receiver: a secret (pulumi config set --secret --path obs:alerting.receivers.oncall.routingKey <value>)",
    ]);
    expect(issues({ receivers: { team: { type: "slack", channel: "#t" } } })[0]).toMatch(/^obs:alerting\.receivers\.team\.apiUrl = undefined: required for a slack receiver/);
    // email needs its password only with a user
    expect(issues({ receivers: { m: { type: "email", to: "a@example.com", from: "b@example.com", smarthost: "smtp.example.com:25" } } })).toEqual([]);
    expect(issues({ receivers: { m: { type: "email", to: "a@example.com", from: "b@example.com", smarthost: "smtp.example.com:25", authUsername: "b" } } })[0]).toMatch(/^obs:alerting\.receivers\.m\.authPassword = undefined: required for an email receiver/);
    // a disabled section needs none
    expect(issues({ enabled: false, receivers: { oncall: { type: "pagerduty" } } })).toEqual([]);
  });

  it("a secret that is not a string is refused without echoing it", () => {
    expect(issues({ receivers: { hook: { type: "webhook", url: { nested: "s3cr3t" } } } })).toEqual(["obs:alerting.receivers.hook.url = \"(secret)\": a string (set it with `pulumi config set --secret --path obs:alerting.receivers.hook.url <value>`)"]);
  });

  it("a route naming an unknown receiver lists the known ones", () => {
    const hook = { type: "webhook", url: "https://h.example.com/" };
    expect(issues({ receivers: { hook }, route: { receiver: "pager", routes: [{ severity: ["critical"], receiver: "oncal" }] }, deadMansSwitch: { receiver: "dms" } })).toEqual([
      'obs:alerting.route.receiver = "pager": one of the receivers: hook, null',
      'obs:alerting.route.routes[0].receiver = "oncal": one of the receivers: hook, null',
      'obs:alerting.deadMansSwitch.receiver = "dms": one of the receivers: hook, null',
    ]);
  });

  it("refuses what a receiver type needs missing, bad values, a match-all child route and two replicas", () => {
    expect(issues({ receivers: { s: { type: "slack", apiUrl: "https://hooks.slack.com/x" }, e: { type: "email" } } })).toEqual([
      'obs:alerting.receivers.s.channel = "": a channel name such as #alerts (required for a slack receiver)',
      'obs:alerting.receivers.e.to = "": required for an email receiver (an address)',
      'obs:alerting.receivers.e.from = "": required for an email receiver (an address)',
      'obs:alerting.receivers.e.smarthost = "": required for an email receiver (host:port)',
    ]);
    // a secret under another type's key, or an unknown type, is never echoed
    expect(issues({ receivers: { x: { type: "sms", url: "s3cr3t" } } })).toEqual(['obs:alerting.receivers.x.type = "sms": one of webhook, slack, pagerduty, email']);
    expect(issues({ receivers: { x: { type: "webhook", apiUrl: "s3cr3t" } } })).toEqual([
      'obs:alerting.receivers.x.apiUrl = "(secret)": not a key of a webhook receiver (its secret is url)',
      "obs:alerting.receivers.x.url = undefined: required for a webhook receiver: a secret (pulumi config set --secret --path obs:alerting.receivers.x.url <value>)",
    ]);
    expect(issues({ receivers: { Bad_Name: { type: "webhook", url: "https://h/" } } })[0]).toMatch(/^obs:alerting\.receivers\.Bad_Name = "Bad_Name": a key that is a receiver name/);
    expect(issues({ receivers: { null: { type: "webhook", url: "https://h/" } } })).toEqual(['obs:alerting.receivers.null = "null": a receiver name other than null (the built-in receiver that notifies no one)']);
    expect(issues({ route: { routes: [{ receiver: "null" }] } })[0]).toMatch(/^obs:alerting\.route\.routes\[0\] = .*at least one of severity, namespaces, alertnames/);
    expect(issues({ route: { routes: [{ receiver: "null", severity: ["urgent"] }] } })).toEqual(['obs:alerting.route.routes[0].severity[0] = "urgent": one of critical, warning, none']);
    expect(issues({ route: { groupWait: "soon" } })[0]).toMatch(/^obs:alerting\.route\.groupWait = "soon": a Prometheus duration/);
    expect(issues({ replicas: 2 })[0]).toMatch(/^obs:alerting\.replicas = 2: 1, or 3 or more/);
    expect(issues({}, false)).toEqual(["obs:alerting.enabled = true: false while obs:prometheus.enabled is false (the alerts come from Prometheus's rules)"]);
  });

  it("runbookUrl: the base of every runbook link, an http(s) URL or a path without a fragment; by default the file in this repository, not an invented address", () => {
    expect(parseAlertingConfig({}).config!.runbookUrl).toBe(RUNBOOKS_URL);
    expect(RUNBOOKS_URL).toBe("docs/runbooks.md");
    expect(issues({ runbookUrl: "https://wiki.example.com/ops/istio-runbooks" })).toEqual([]);
    expect(issues({ runbookUrl: "wiki/runbooks#top" })).toEqual(['obs:alerting.runbookUrl = "wiki/runbooks#top": an http(s) URL or a path, without a #fragment']);
    expect(issues({ runbookUrl: "ftp://x/runbooks" })).toEqual(['obs:alerting.runbookUrl = "ftp://x/runbooks": an http(s) URL or a path, without a #fragment']);
  });

  it("is part of the stack config: a bad route fails the whole config at preview", () => {
    expect(problems({ ...base(), alerting: { route: { receiver: "nobody" } } })).toEqual(['obs:alerting.route.receiver = "nobody": one of the receivers: null']);
  });

  it("an email receiver's SMTP port must be open to Alertmanager under the network policies", () => {
    const mail = { type: "email", to: "a@example.com", from: "b@example.com", smarthost: "smtp.example.com:587" };
    expect(problems({ ...base(), alerting: { receivers: { mail } } })).toEqual([
      'obs:alerting.receivers.mail.smarthost = "smtp.example.com:587": a port the network policies let Alertmanager reach (open: 443), or open 587: obs:networkPolicy.extraFlows: [{from: alertmanager, to: external, ports: [587]}]',
    ]);
    expect(problems({ ...base(), alerting: { receivers: { mail } }, networkPolicy: { extraFlows: [{ from: "alertmanager", to: "external", ports: [587] }] } })).toEqual([]);
    expect(problems({ ...base(), alerting: { receivers: { mail: { ...mail, smarthost: "smtp.example.com:443" } } } })).toEqual([]);
    expect(problems({ ...base(), alerting: { receivers: { mail } }, networkPolicy: { enabled: false } })).toEqual([]);
  });

  it("offline render: every receiver's secret gets a placeholder that parses", () => {
    const raw = { receivers: { h: { type: "webhook" }, s: { type: "slack", channel: "#c" }, p: { type: "pagerduty" }, e: { type: "email", to: "a@x", from: "b@x", smarthost: "h:25" } } };
    expect(receiverSecretPaths(raw)).toEqual(["receivers.h.url", "receivers.s.apiUrl", "receivers.p.routingKey"]);
    expect(issues(raw)).toHaveLength(3);
    expect(issues(withReceiverPlaceholders(raw))).toEqual([]);
  });
});
