// alertmanager.yml, the receivers' Secret, the workload and Prometheus's `alerting:` section,
// from the pure builders (amtool checks the rendered files in test/e2e/alert-pipeline.test.ts).
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type AlertingConfig, parseAlertingConfig } from "../../../components/prometheus/alerting/config.js";
import { buildAlertmanagerConfig, receiverSecretFiles, renderAlertmanagerYaml, SECRETS_DIR } from "../../../components/prometheus/alerting/alertmanager.js";
import { alertingSection } from "../../../components/prometheus/alerting/discovery.js";
import { alertmanagerArgs, alertmanagerWorkload, clusterPeers, disruptionBudgetSpec } from "../../../components/prometheus/alerting/workload.js";
import { ALERTS } from "../../../components/prometheus/rules.js";
import { prometheusFiles } from "../../../components/prometheus/workload.js";
import { operatorObjects } from "../../../components/prometheus/operator.js";
import { parsePrometheusConfig } from "../../../components/prometheus/config.js";
import { RULES_FILE } from "../../../components/prometheus/scrape.js";

const SECRETS = { pager: "pd-routing-key-0123", chat: "https://hooks.slack.com/services/T0/B0/s3cr3t", hook: "https://hooks.example.com/x?token=t0k3n", mail: "smtp-pa55word" };
function config(raw: Record<string, unknown>): AlertingConfig {
  const { config: c, issues } = parseAlertingConfig(raw);
  expect(issues).toEqual([]);
  return c!;
}
const full = config({
  receivers: {
    pager: { type: "pagerduty", routingKey: SECRETS.pager },
    chat: { type: "slack", channel: "#alerts", apiUrl: SECRETS.chat },
    hook: { type: "webhook", url: SECRETS.hook, sendResolved: false },
    mail: { type: "email", to: "team@example.com", from: "am@example.com", smarthost: "smtp.example.com:587", authUsername: "am", authPassword: SECRETS.mail },
  },
  route: { receiver: "chat", routes: [{ severity: ["critical"], receiver: "pager", continue: true }, { namespaces: ["payments", "shop"], receiver: "mail", repeatInterval: "1h" }] },
  deadMansSwitch: { receiver: "hook", repeatInterval: "1m" },
});

describe("alertmanager.yml", () => {
  const yml = renderAlertmanagerYaml({ config: full });
  const am = parse(yml);

  it("holds no secret: every receiver reads its URL, key or password from a file of the Secret", () => {
    for (const v of Object.values(SECRETS)) expect(yml).not.toContain(v);
    const byName = Object.fromEntries(am.receivers.map((r: any) => [r.name, r]));
    expect(byName.pager.pagerduty_configs[0].routing_key_file).toBe(`${SECRETS_DIR}/pager.routingKey`);
    expect(byName.chat.slack_configs[0]).toMatchObject({ api_url_file: `${SECRETS_DIR}/chat.apiUrl`, channel: "#alerts", send_resolved: true });
    expect(byName.hook.webhook_configs[0]).toEqual({ url_file: `${SECRETS_DIR}/hook.url`, send_resolved: false });
    expect(byName.mail.email_configs[0]).toMatchObject({ to: "team@example.com", from: "am@example.com", smarthost: "smtp.example.com:587", auth_username: "am", auth_password_file: `${SECRETS_DIR}/mail.authPassword`, require_tls: true });
    expect(byName.null).toEqual({ name: "null" });
    expect(receiverSecretFiles(full, SECRETS)).toEqual({ "pager.routingKey": SECRETS.pager, "chat.apiUrl": SECRETS.chat, "hook.url": SECRETS.hook, "mail.authPassword": SECRETS.mail });
  });

  it("notifications carry the runbook link", () => {
    expect(yml).toContain("{{ .Annotations.runbook_url }}");
    expect(am.receivers.find((r: any) => r.name === "pager").pagerduty_configs[0].links).toEqual([{ href: "{{ (index .Alerts 0).Annotations.runbook_url }}", text: "Runbook" }]);
  });

  it("routes Watchdog first to the dead man's switch, then by severity and namespace", () => {
    expect(am.route).toMatchObject({ receiver: "chat", group_by: ["alertname", "namespace", "revision"], group_wait: "30s", group_interval: "5m", repeat_interval: "4h" });
    expect(am.route.routes).toEqual([
      { receiver: "hook", matchers: [`alertname="${ALERTS.watchdog}"`], group_wait: "0s", group_interval: "1m", repeat_interval: "1m" },
      { receiver: "pager", matchers: ['severity="critical"'], continue: true },
      { receiver: "mail", matchers: ['namespace=~"payments|shop"'], repeat_interval: "1h" },
    ]);
  });

  it("without receivers everything goes to the null receiver, Watchdog included", () => {
    const empty = buildAlertmanagerConfig({ config: config({}) });
    expect(empty.route.receiver).toBe("null");
    expect(empty.route.routes![0]!.receiver).toBe("null");
    expect(empty.receivers).toEqual([{ name: "null" }]);
  });

  it("IstiodDown holds back the injection, xDS and target alerts of its revision", () => {
    expect(am.inhibit_rules).toContainEqual({ source_matchers: ['alertname="IstiodDown"'], target_matchers: ['alertname=~"IstioSidecarInjectionFailures|IstioXdsPushErrors|IstioXdsRejects"'], equal: ["revision"] });
    expect(am.inhibit_rules).toContainEqual({ source_matchers: ['alertname="IstiodDown"'], target_matchers: ['alertname="TargetDown"', 'job="istiod"'], equal: ["revision"] });
  });

  it("a test can put the secret files elsewhere", () => {
    expect(parse(renderAlertmanagerYaml({ config: full, secretsDir: "/tmp/x" })).receivers[3].webhook_configs[0].url_file).toBe("/tmp/x/hook.url");
  });
});

describe("Alertmanager workload", () => {
  const input = (replicas: number) => ({ name: "alertmanager", namespace: "observability", clusterDomain: "cluster.local", config: config({ replicas }), selector: { app: "am" }, labels: { app: "am", x: "y" }, configMapName: "am-config", secretName: "am-receivers", configHash: "abc" });

  it("one replica: clustering off, no peers", () => {
    expect(clusterPeers("alertmanager", 1, "observability", "cluster.local")).toEqual([]);
    expect(alertmanagerArgs({ retention: "120h" }, [])).toContain("--cluster.listen-address=");
    const w = alertmanagerWorkload(input(1));
    expect(w.statefulSet.replicas).toBe(1);
    expect(w.service.ports).toEqual([{ name: "http-web", port: 9093 }]);
  });

  it("three replicas: a gossip cluster of stable pod names, spread over nodes, data on a volume per pod", () => {
    const w = alertmanagerWorkload(input(3));
    const pod = (w.statefulSet.template as any).spec;
    const args: string[] = pod.containers[0].args;
    expect(args.filter((a) => a.startsWith("--cluster.peer="))).toEqual([0, 1, 2].map((i) => `--cluster.peer=alertmanager-${i}.alertmanager.observability.svc.cluster.local:9094`));
    expect(args).toContain("--cluster.listen-address=0.0.0.0:9094");
    expect(args).toContain("--cluster.advertise-address=$(POD_IP):9094");
    expect(args).toContain("--storage.path=/alertmanager");
    expect(args).toContain("--data.retention=120h");
    expect(args).toContain("--enable-feature=receiver-name-in-metrics");
    expect((w.statefulSet.template as any).metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "9093" });
    expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm).toEqual({ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "am" } } });
    expect(pod.topologySpreadConstraints[0]).toMatchObject({ topologyKey: "topology.kubernetes.io/zone", maxSkew: 1 });
    expect(w.service).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    expect((w.statefulSet.volumeClaimTemplates as any[])[0]).toMatchObject({ metadata: { name: "data" }, spec: { resources: { requests: { storage: "1Gi" } } } });
    expect(w.statefulSet.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(pod.volumes).toEqual([{ name: "config", configMap: { name: "am-config" } }, { name: "secrets", secret: { secretName: "am-receivers" } }]);
    expect(disruptionBudgetSpec({ app: "am" })).toEqual({ maxUnavailable: 1, selector: { matchLabels: { app: "am" } } });
  });
});

describe("Prometheus alerting section", () => {
  it("discovers every Alertmanager pod (not one Service address) and drops the Prometheus replica label", () => {
    const s = alertingSection({ namespace: "observability", service: "alertmanager", portName: "http-web" }, "replica");
    expect(s.alert_relabel_configs).toEqual([{ action: "labeldrop", regex: "replica" }]);
    expect(s.alertmanagers[0]).toMatchObject({ api_version: "v2", kubernetes_sd_configs: [{ role: "endpointslice", namespaces: { names: ["observability"] } }] });
    expect((s.alertmanagers[0] as any).relabel_configs[0]).toEqual({ action: "keep", source_labels: ["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"], regex: "alertmanager;http-web" });
    expect(JSON.stringify(s)).not.toContain("static_configs");
  });
});

describe("runbook links in both Prometheus modes", () => {
  const base = "https://wiki.example.com/istio-runbooks";
  const prom = (raw: Record<string, unknown>) => parsePrometheusConfig(raw).config!;
  const urls = (groups: { rules: any[] }[]) => groups.flatMap((g) => g.rules).filter((r) => r.alert).map((r) => r.annotations.runbook_url as string);

  it("the server's rule file and the operator's PrometheusRule point every alert at obs:alerting.runbookUrl", () => {
    const files = prometheusFiles({ config: prom({}), clusterName: "c", environment: "e", meshMtls: "PERMISSIVE", runbookUrl: base });
    const server = urls(parse(files[RULES_FILE]!).groups);
    expect(server.length).toBeGreaterThan(10);
    expect(server).toContain(`${base}#istioddown`);
    for (const u of server) expect(u.startsWith(`${base}#`), u).toBe(true);
    const rule = operatorObjects({ config: prom({ mode: "operator", mtlsScraping: false, operator: { queryUrl: "http://prometheus-operated.monitoring.svc:9090" } }), meshMtls: "PERMISSIVE", namespace: "observability", name: "prometheus", labels: {}, runbookUrl: base }).find((o) => o.kind === "PrometheusRule")!;
    expect(urls((rule as any).spec.groups)).toEqual(server);
  });
});
