// What the local istiod supervisor takes from an istiod Deployment, on the Deployment and Service
// the pinned istioctl 1.31 renders for the stack (test/builders/istio-shapes.ts).
import os from "node:os";
import { describe, expect, it } from "vitest";
import { configMapsOf, discoveryContainer, expandVars, istioVersionOf, istiodArgs, listenerForPort, podFacts, portForwardOf, resolveEnv, revisionOf, serviceRoutes, type Deployment, type Ports, type Service } from "../../scripts/lib/istiod.js";

import { revisionObjects } from "../builders/istio-shapes.js";

const rendered = revisionObjects("1-31");
const fixture = {
  deployment: rendered.find((o) => o.kind === "Deployment" && o.metadata.name === "istiod-1-31") as unknown as Deployment,
  service: rendered.find((o) => o.kind === "Service" && o.metadata.name === "istiod-1-31") as unknown as Service,
};
const dep = fixture.deployment;
const svc: Service = { ...fixture.service, spec: { ...fixture.service.spec, clusterIP: "10.0.81.199", clusterIPs: ["10.0.81.199"] } };
const ports: Ports = { http: 41001, grpc: 41002, secureGrpc: 41003, https: 41004, monitoring: 41005, ctrlz: 41006 };
const clone = (): Deployment => JSON.parse(JSON.stringify(dep));

describe("istiod harness: from the rendered Deployment", () => {
  it("names the revision, its ConfigMaps and the pinned Istio minor from the image tag", () => {
    expect(revisionOf(dep)).toBe("1-31");
    expect(configMapsOf("1-31")).toEqual(["istio-1-31", "istio-sidecar-injector-1-31"]);
    expect(configMapsOf("default")).toEqual(["istio", "istio-sidecar-injector"]);
    expect(istioVersionOf(dep)).toEqual({ version: "1.31", imageTag: "1.31.0" });
    const other = clone();
    discoveryContainer(other).image = "docker.io/istio/pilot:1.29.2";
    expect(() => istioVersionOf(other)).toThrow(/image tag '1.29.2' is no pinned Istio version \(pinned: 1.30 \(1.30.3\), 1.31 \(1.31.0\)\)/);
  });

  it("resolves the env as the pod would get it: fieldRefs, resourceFieldRefs, plain values", () => {
    const env = resolveEnv(discoveryContainer(dep), podFacts(dep));
    expect(env).toMatchObject({ REVISION: "1-31", POD_NAME: "istiod-1-31-local", POD_NAMESPACE: "istio-system", SERVICE_ACCOUNT: "istiod-1-31", PILOT_CERT_PROVIDER: "istiod", GOMAXPROCS: "1", PLATFORM: "" });
    // every env var of the container is there, none invented
    expect(Object.keys(env).sort()).toEqual(discoveryContainer(dep).env!.map((e) => e.name).sort());
  });

  it("takes the machine's capacity for a resourceFieldRef on an unset limit, rounded up over the divisor", () => {
    const d = clone();
    const c = discoveryContainer(d);
    delete c.resources!.limits;
    c.env!.push({ name: "GOMEMLIMIT", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } } });
    const env = resolveEnv(c, podFacts(d));
    expect(env.GOMAXPROCS).toBe(String(os.cpus().length));
    expect(env.GOMEMLIMIT).toBe(String(Math.ceil(os.totalmem() / 2 ** 20)));
  });

  it("refuses env it cannot resolve, naming it", () => {
    const d = clone();
    discoveryContainer(d).env!.push({ name: "TOKEN", valueFrom: { secretKeyRef: { name: "x", key: "y" } } });
    expect(() => resolveEnv(discoveryContainer(d), podFacts(d))).toThrow("env TOKEN: valueFrom secretKeyRef is not supported by the local istiod harness");
  });

  it("keeps the Deployment's args, replaces every listener with 127.0.0.1 and adds the kubeconfig", () => {
    const c = discoveryContainer(dep);
    expect(c.args).toContain("--monitoringAddr=:15014");
    const args = istiodArgs(c, {}, ports, "/k/kubeconfig");
    expect(args.slice(0, 7)).toEqual(["discovery", "--log_output_level=default:info", "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m", "--httpAddr=127.0.0.1:41001"]);
    expect(args).toEqual(expect.arrayContaining(["--grpcAddr=127.0.0.1:41002", "--secureGRPCAddr=127.0.0.1:41003", "--httpsAddr=127.0.0.1:41004", "--monitoringAddr=127.0.0.1:41005", "--ctrlz_address=127.0.0.1", "--ctrlz_port=41006", "--kubeconfig=/k/kubeconfig"]));
    expect(args.filter((a) => a.startsWith("--monitoringAddr"))).toEqual(["--monitoringAddr=127.0.0.1:41005"]);
    // every address flag binds loopback
    for (const a of args.filter((x) => /Addr=/.test(x))) expect(a).toMatch(/=127\.0\.0\.1:\d+$/);
    // the space-separated form of a listener flag goes too, value and all
    expect(istiodArgs({ name: "discovery", args: ["discovery", "--httpsAddr", ":15017", "--domain", "cluster.local"] }, {}, ports, "/k")).toEqual(["discovery", "--domain", "cluster.local", ...istiodArgs({ name: "d" }, {}, ports, "/k")]);
  });

  it("expands $(VAR) like the kubelet", () => {
    expect(expandVars("$(POD_NAMESPACE).svc:$(MISSING) $$(X)", { POD_NAMESPACE: "istio-system" })).toBe("istio-system.svc:$(MISSING) $(X)");
  });

  it("maps each port of the istiod Service's ClusterIP to the listener its targetPort is", () => {
    const routes = serviceRoutes([svc], [dep]);
    expect(Object.fromEntries([...routes].map(([k, r]) => [k, `${r.revision} ${r.listener}`]))).toEqual({
      "10.0.81.199:443": "1-31 https",
      "10.0.81.199:15010": "1-31 grpc",
      "10.0.81.199:15012": "1-31 secureGrpc",
      "10.0.81.199:15014": "1-31 monitoring",
    });
    // a Service that selects no istiod, or an istiod of another revision, gets no route
    expect(serviceRoutes([{ ...svc, spec: { ...svc.spec, selector: { app: "istiod", "istio.io/rev": "1-30" } } }], [dep]).size).toBe(0);
    expect(serviceRoutes([{ ...svc, spec: { ...svc.spec, selector: { app: "istio-ingressgateway" } } }], [dep]).size).toBe(0);
  });

  it("forwards every port the rendered istiod pod declares, and istioctl's 15014, to its listener on 127.0.0.1; owned by the pod", () => {
    const pod = { metadata: { name: "istiod-1-31-5d9c7b6f4-x2x7q", namespace: "istio-system", uid: "0b8f3c1e-1111-2222-3333-444455556666", labels: dep.spec.template.metadata!.labels } };
    const pf = portForwardOf(pod, ports) as { metadata: any; spec: { forwards: { ports: number[]; target: { address: string; port: number } }[] } };
    expect(revisionOf(pod)).toBe("1-31");
    expect(pf.metadata).toMatchObject({ name: pod.metadata.name, namespace: "istio-system", ownerReferences: [{ kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid }] });
    const target = (port: number) => pf.spec.forwards.find((f) => f.ports.includes(port))?.target;
    const declared = (discoveryContainer(dep).ports ?? []).map((p: { containerPort: number }) => p.containerPort);
    expect(declared.length).toBeGreaterThanOrEqual(3);
    for (const port of [...declared, 15014]) expect(target(port), `port ${port}`).toEqual({ address: "127.0.0.1", port: ports[listenerForPort(port)!] });
    // every target is one of this revision's listeners, each once
    expect(pf.spec.forwards.map((f) => f.target.port).sort()).toEqual(Object.values(ports).sort());
  });
});
