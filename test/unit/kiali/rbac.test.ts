import { describe, expect, it } from "vitest";
import { ISTIO_GROUPS, kialiClusterRoleRules } from "../../../components/kiali/rbac.js";

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] };
const rules = (viewOnly: boolean) => kialiClusterRoleRules(viewOnly) as Rule[];
const READ = ["get", "list", "watch"];
// create on these only asks (a token review) or connects (port-forward to Envoy's admin API); it changes no object
const NOT_AN_OBJECT = new Set(["tokenreviews", "pods/portforward"]);

/** Every (group, resource, verb) that changes an object. */
function writes(rs: Rule[]): string[] {
  return rs.flatMap((r) => (r.resources ?? []).filter((res) => !NOT_AN_OBJECT.has(res)).flatMap((res) => r.verbs.filter((v) => !READ.includes(v)).flatMap((v) => (r.apiGroups ?? []).map((g) => `${g || "core"}/${res} ${v}`))));
}

/** Verbs granted on a resource of a group. */
function verbs(rs: Rule[], group: string, resource: string): string[] {
  return [...new Set(rs.filter((r) => r.apiGroups?.includes(group) && (r.resources?.includes(resource) || r.resources?.includes("*"))).flatMap((r) => r.verbs))].sort();
}

describe("Kiali ClusterRole", () => {
  it("read-only grants no write verb on any object", () => {
    expect(writes(rules(true))).toEqual([]);
    for (const r of rules(true)) expect(r.verbs).not.toContain("*");
  });

  it("reads what Kiali shows: workloads, services, pods and their logs, Istio and Gateway API config, injector webhooks", () => {
    const rs = rules(true);
    for (const res of ["namespaces", "pods", "pods/log", "services", "endpoints", "replicationcontrollers", "configmaps"]) expect(verbs(rs, "", res), res).toEqual(READ);
    for (const res of ["deployments", "replicasets", "statefulsets", "daemonsets"]) expect(verbs(rs, "apps", res), res).toEqual(READ);
    for (const res of ["jobs", "cronjobs"]) expect(verbs(rs, "batch", res), res).toEqual(READ);
    for (const g of ["networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io", "gateway.networking.k8s.io"]) expect(verbs(rs, g, "anything"), g).toEqual(READ);
    expect(verbs(rs, "admissionregistration.k8s.io", "mutatingwebhookconfigurations")).toEqual(READ);
    expect(verbs(rs, "admissionregistration.k8s.io", "validatingwebhookconfigurations")).toEqual([]);
    expect(verbs(rs, "authentication.k8s.io", "tokenreviews")).toEqual(["create"]);
  });

  it("grants no Secrets, nodes or wildcard groups, in either mode", () => {
    for (const viewOnly of [true, false]) {
      const rs = rules(viewOnly);
      expect(verbs(rs, "", "secrets")).toEqual([]);
      expect(verbs(rs, "", "nodes")).toEqual([]);
      for (const r of rs) {
        expect(r.apiGroups).not.toContain("*");
        if (r.resources?.includes("*")) expect([...ISTIO_GROUPS]).toEqual(expect.arrayContaining(r.apiGroups!));
      }
    }
  });

  it("with viewOnly false adds create/delete/patch on Istio config and patch on workloads, nothing else", () => {
    const rs = rules(false);
    for (const g of ISTIO_GROUPS) expect(verbs(rs, g, "anything"), g).toEqual(["create", "delete", "get", "list", "patch", "watch"]);
    for (const res of ["deployments", "replicasets", "statefulsets", "daemonsets"]) expect(verbs(rs, "apps", res)).toEqual(["get", "list", "patch", "watch"]);
    for (const res of ["namespaces", "pods", "services"]) expect(verbs(rs, "", res)).toEqual(["get", "list", "patch", "watch"]);
    expect(verbs(rs, "", "configmaps")).toEqual(READ);
    expect(verbs(rs, "", "pods/log")).toEqual(READ);
    const allWriteVerbs = new Set(writes(rs).map((w) => w.split(" ")[1]));
    expect([...allWriteVerbs].sort()).toEqual(["create", "delete", "patch"]);
    expect(writes(rs).filter((w) => w.endsWith(" create") || w.endsWith(" delete")).every((w) => ISTIO_GROUPS.some((g) => w.startsWith(`${g}/`)))).toBe(true);
  });
});
