import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../config/index.js";
import { buildOverlay, gatewayDisruptionBudgets, TRACING_PROVIDER } from "../../../components/istio/overlay.js";
import type { KubeObject } from "../../../components/k8s/objects.js";
import { ACCESS_LOG_FIELDS } from "../../../components/mesh/access-log.js";

const cfg = (istio: Record<string, unknown> = {}) =>
  parseConfig("dev", { kubernetes: { context: "x" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: { revisions: [{ name: "1-30", version: "1.30" }, { name: "1-31", version: "1.31", profile: "minimal" }], ...istio } }, { istio: ["1.30", "1.31"] }).istio;

type Overlay = { spec: Record<string, any> };

describe("IstioOperator overlay", () => {
  it("sets profile, revision and the JSON access log to stdout from the one field definition", () => {
    const istio = cfg();
    const o = buildOverlay({ istio, revision: istio.revisions[0]!, withGateways: true, zipkinHost: "jaeger-collector.observability.svc.cluster.local" }) as Overlay;
    expect(o.spec.profile).toBe("default");
    expect(o.spec.revision).toBe("1-30");
    expect(o.spec.meshConfig.accessLogFile).toBe("/dev/stdout");
    expect(o.spec.meshConfig.accessLogEncoding).toBe("JSON");
    const format = JSON.parse(o.spec.meshConfig.accessLogFormat);
    expect(Object.keys(format)).toEqual(ACCESS_LOG_FIELDS.map((f) => f.name));
    expect(format.trace_id).toBe("%REQ(X-B3-TRACEID)%");
  });

  it("points the tracing extension provider at the collector's Zipkin port", () => {
    const istio = cfg();
    const o = buildOverlay({ istio, revision: istio.revisions[0]!, withGateways: true, zipkinHost: "jaeger-collector.tracing.svc.cluster.local" }) as Overlay;
    expect(o.spec.meshConfig.extensionProviders).toEqual([{ name: TRACING_PROVIDER, zipkin: { service: "jaeger-collector.tracing.svc.cluster.local", port: 9411 } }]);
  });

  it("uses a revision's own profile when it has one", () => {
    const istio = cfg();
    const o = buildOverlay({ istio, revision: istio.revisions[1]!, withGateways: false, zipkinHost: "z" }) as Overlay;
    expect(o.spec.profile).toBe("minimal");
  });

  it("turns gateways on only for the gateway revision and as configured", () => {
    const istio = cfg({ gateways: { ingress: true, egress: true, serviceType: "NodePort", replicas: 2 } });
    const on = buildOverlay({ istio, revision: istio.revisions[0]!, withGateways: true, zipkinHost: "z" }) as Overlay;
    const off = buildOverlay({ istio, revision: istio.revisions[1]!, withGateways: false, zipkinHost: "z" }) as Overlay;
    expect(on.spec.components.ingressGateways[0]).toMatchObject({ enabled: true, k8s: { replicaCount: 2, service: { type: "NodePort" } } });
    expect(on.spec.components.egressGateways[0].enabled).toBe(true);
    expect(off.spec.components.ingressGateways[0].enabled).toBe(false);
    expect(off.spec.components.egressGateways[0].enabled).toBe(false);
  });

  it("sizes istiod and enables the HPA only when autoscaleMax exceeds replicas", () => {
    const fixed = cfg({ pilot: { replicas: 2, autoscaleMax: 2 } });
    const scaled = cfg({ pilot: { replicas: 2, autoscaleMax: 5, resources: { requests: { cpu: "1", memory: "1Gi" } } } });
    const a = buildOverlay({ istio: fixed, revision: fixed.revisions[0]!, withGateways: false, zipkinHost: "z" }) as Overlay;
    const b = buildOverlay({ istio: scaled, revision: scaled.revisions[0]!, withGateways: false, zipkinHost: "z" }) as Overlay;
    expect(a.spec.components.pilot.k8s.replicaCount).toBe(2);
    expect(a.spec.components.pilot.k8s.hpaSpec).toBeUndefined();
    expect(a.spec.values.pilot.autoscaleEnabled).toBe(false);
    expect(b.spec.components.pilot.k8s.hpaSpec).toEqual({ minReplicas: 2, maxReplicas: 5 });
    expect(b.spec.components.pilot.k8s.resources.requests).toMatchObject({ cpu: "1", memory: "1Gi" });
    // the HPA owns replicas: the overlay names none, so istioctl renders none
    expect(b.spec.components.pilot.k8s).not.toHaveProperty("replicaCount");
    expect(b.spec.values.pilot).toMatchObject({ autoscaleEnabled: true, autoscaleMin: 2, autoscaleMax: 5 });
  });

  it("spreads gateways over nodes (preferred, so a 100 % surge still fits) only with more than one replica", () => {
    const one = cfg({ gateways: { ingress: true, egress: true, replicas: 1 } });
    const three = cfg({ gateways: { ingress: true, egress: true, replicas: 3 } });
    const a = buildOverlay({ istio: one, revision: one.revisions[0]!, withGateways: true, zipkinHost: "z" }) as Overlay;
    const b = buildOverlay({ istio: three, revision: three.revisions[0]!, withGateways: true, zipkinHost: "z" }) as Overlay;
    expect(a.spec.components.ingressGateways[0].k8s.affinity).toBeUndefined();
    expect(a.spec.components.egressGateways[0].k8s.affinity).toBeUndefined();
    const anti = b.spec.components.ingressGateways[0].k8s.affinity.podAntiAffinity;
    expect(anti.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(anti.preferredDuringSchedulingIgnoredDuringExecution[0]).toEqual({ weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { istio: "ingressgateway" } } } });
    expect(b.spec.components.egressGateways[0].k8s.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector).toEqual({ matchLabels: { istio: "egressgateway" } });
  });

  it("sets the seccomp profile Pod Security restricted asks for on istiod and the gateways, and the gateways' resources", () => {
    const istio = cfg({ gateways: { ingress: true, egress: true, resources: { limits: { "ephemeral-storage": "2Gi" } } } });
    const o = buildOverlay({ istio, revision: istio.revisions[0]!, withGateways: true, zipkinHost: "z" }) as Overlay;
    expect(o.spec.values.pilot.seccompProfile).toEqual({ type: "RuntimeDefault" });
    for (const gw of [o.spec.components.ingressGateways[0], o.spec.components.egressGateways[0]]) {
      expect(gw.k8s.securityContext).toEqual({ runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      expect(gw.k8s.resources).toEqual({ requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "100Mi" }, limits: { cpu: "2", memory: "1Gi", "ephemeral-storage": "2Gi" } });
    }
  });

  it("gives each gateway Deployment with more than one replica a PodDisruptionBudget on its own selector", () => {
    const deployment = (name: string, replicas: number): KubeObject => ({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: "istio-system", labels: { app: name } }, spec: { replicas, selector: { matchLabels: { app: name, istio: name.replace("istio-", "") } } } });
    const pdbs = gatewayDisruptionBudgets([deployment("istio-ingressgateway", 3), deployment("istio-egressgateway", 1), deployment("istiod-1-30", 3)]);
    expect(pdbs).toEqual([
      { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "istio-ingressgateway", namespace: "istio-system", labels: { app: "istio-ingressgateway" } }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: "istio-ingressgateway", istio: "ingressgateway" } } } },
    ]);
  });

  it("leaves the access log off when config says so", () => {
    const istio = cfg({ accessLog: false });
    const o = buildOverlay({ istio, revision: istio.revisions[0]!, withGateways: false, zipkinHost: "z" }) as Overlay;
    expect(o.spec.meshConfig.accessLogFile).toBeUndefined();
  });
});

describe("IstioOperator overlay: outbound traffic", () => {
  const overlay = (istio: ReturnType<typeof cfg>) => buildOverlay({ istio, revision: istio.revisions[0]!, withGateways: true, zipkinHost: "z" }) as Overlay;

  it("sets meshConfig.outboundTrafficPolicy from config, ALLOW_ANY by default", () => {
    expect(overlay(cfg()).spec.meshConfig.outboundTrafficPolicy).toEqual({ mode: "ALLOW_ANY" });
    expect(overlay(cfg({ outboundTrafficPolicy: "REGISTRY_ONLY" })).spec.meshConfig.outboundTrafficPolicy).toEqual({ mode: "REGISTRY_ONLY" });
  });

  it("joins the bypass ranges into values.global.proxy.excludeIPRanges, and sets nothing without them", () => {
    const o = overlay(cfg({ bypassOutboundIPRanges: ["169.254.169.254/32", "10.96.0.0/12", "fd00::/8"] }));
    expect(o.spec.values.global).toEqual({ istioNamespace: "istio-system", proxy: { excludeIPRanges: "169.254.169.254/32,10.96.0.0/12,fd00::/8" } });
    expect(overlay(cfg()).spec.values.global).toEqual({ istioNamespace: "istio-system" });
  });
});
