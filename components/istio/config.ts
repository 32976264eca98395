// The `obs:istio` section: schema (defaults live here), the checks that span its keys, and how
// a namespace's label resolves to a revision.
import { bool, dnsLabel, type Field, type Issue, list, num, obj, oneOf, record, resources, str } from "../../lib/schema.js";

export const ISTIO_PROFILES = ["default", "demo", "minimal", "empty"] as const;
export type IstioProfile = (typeof ISTIO_PROFILES)[number];

const revision = obj(
  {
    name: dnsLabel({ doc: "revision name, used in `istio.io/rev` and object names (e.g. `1-30`)" }),
    version: str({ doc: "Istio version of this revision's control plane; must have a pinned istioctl in tools/versions.json" }),
    profile: oneOf(ISTIO_PROFILES, { doc: "profile for this revision (default: `istio.profile`)", default: undefined as unknown as IstioProfile }),
  },
  { doc: "a control-plane revision", optional: false },
);

export const istioSchema = obj(
  {
    profile: oneOf(ISTIO_PROFILES, { doc: "istioctl profile rendered for every revision", default: "default" }),
    revisions: list(revision, { doc: "control-plane revisions; the canary upgrade adds one beside the other", default: [] }),
    tags: record(dnsLabel({ doc: "revision this tag points at" }), { doc: "revision tags (`istioctl tag set` equivalent): tag -> revision", default: {}, keyDoc: "a DNS-1123 label", keyPattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/ }),
    namespaces: record(dnsLabel({ doc: "tag or revision" }), { doc: "application namespaces and the tag or revision that injects them (`istio.io/rev`)", default: {}, keyDoc: "a DNS-1123 label", keyPattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/ }),
    samplingPercent: num({ doc: "percentage of requests traced (Telemetry API randomSamplingPercentage); was obs:tracing.samplingPercent", default: 1, min: 0, max: 100 }),
    mtls: oneOf(["STRICT", "PERMISSIVE"] as const, { doc: "mesh-wide PeerAuthentication mode", default: "STRICT" }),
    pilot: obj(
      {
        replicas: num({ doc: "istiod replicas (the HPA minimum when autoscale is on)", default: 1, min: 1, max: 20, integer: true }),
        autoscaleMax: num({ doc: "HPA maximum; equal to replicas turns the HPA off", default: 1, min: 1, max: 50, integer: true }),
        resources: resources("istiod resources", { cpu: "500m", memory: "2Gi" }, { cpu: "2", memory: "4Gi" }),
      },
      { doc: "istiod" },
    ),
    gateways: obj(
      {
        ingress: bool({ doc: "deploy the ingress gateway", default: true }),
        egress: bool({ doc: "deploy the egress gateway", default: false }),
        serviceType: oneOf(["LoadBalancer", "NodePort", "ClusterIP"] as const, { doc: "Service type of the ingress gateway", default: "LoadBalancer" }),
        replicas: num({ doc: "gateway replicas", default: 1, min: 1, max: 50, integer: true }),
        revision: str({ doc: "revision whose gateways are deployed (in place); default: the first revision", default: "" }),
      },
      { doc: "gateways (upgraded in place, see README)" },
    ),
    accessLog: bool({ doc: "Envoy access log to /dev/stdout as JSON (the EFK pipeline relies on it)", default: true }),
    forceRemoveRevisions: list(dnsLabel({ doc: "revision name" }), { doc: "revisions that may be removed although pods or namespaces still use them (explicit override of the guard rail)", default: [] }),
  },
  { doc: "Istio control plane" },
);

export type IstioConfig = typeof istioSchema extends Field<infer T> ? T : never;
export type RevisionConfig = IstioConfig["revisions"][number];

/** Checks that span keys of `obs:istio`; `pinnedVersions` are the Istio versions with a pinned istioctl. */
export function checkIstio(i: IstioConfig, pinnedVersions: readonly string[], issues: Issue[]): void {
  const revNames = i.revisions.map((r) => r.name);
  if (i.revisions.length === 0 && i.profile !== "empty") issues.push({ key: "obs:istio.revisions", value: [], allowed: "at least one revision ({name, version})" });
  i.revisions.forEach((r, idx) => {
    if (!pinnedVersions.includes(r.version)) issues.push({ key: `obs:istio.revisions[${idx}].version`, value: r.version, allowed: `an Istio version with a pinned istioctl: ${pinnedVersions.join(", ")}` });
    if (revNames.indexOf(r.name) !== idx) issues.push({ key: `obs:istio.revisions[${idx}].name`, value: r.name, allowed: "a name not used by another revision" });
    if (r.name === "default") issues.push({ key: `obs:istio.revisions[${idx}].name`, value: r.name, allowed: "a name other than 'default' (reserved for the default tag)" });
  });
  for (const [tag, rev] of Object.entries(i.tags)) {
    if (!revNames.includes(rev)) issues.push({ key: `obs:istio.tags.${tag}`, value: rev, allowed: `a revision in obs:istio.revisions (${revNames.join(", ") || "none"})` });
    if (revNames.includes(tag)) issues.push({ key: `obs:istio.tags.${tag}`, value: rev, allowed: "a tag name that is not also a revision name" });
  }
  const targets = [...revNames, ...Object.keys(i.tags)];
  for (const [ns, target] of Object.entries(i.namespaces)) {
    if (!targets.includes(target)) issues.push({ key: `obs:istio.namespaces.${ns}`, value: target, allowed: `a revision or tag (${targets.join(", ") || "none"})` });
    if (ns === "istio-system" || ns === "kube-system") issues.push({ key: `obs:istio.namespaces.${ns}`, value: target, allowed: "an application namespace (istio-system and kube-system are never injected)" });
  }
  if (i.gateways.revision && !revNames.includes(i.gateways.revision)) issues.push({ key: "obs:istio.gateways.revision", value: i.gateways.revision, allowed: `a revision in obs:istio.revisions (${revNames.join(", ")})` });
  if (i.pilot.autoscaleMax < i.pilot.replicas) issues.push({ key: "obs:istio.pilot.autoscaleMax", value: i.pilot.autoscaleMax, allowed: `>= obs:istio.pilot.replicas (${i.pilot.replicas})` });
}

/** The revision a namespace label resolves to, through tags. */
export function effectiveRevision(istio: IstioConfig, target: string): string | undefined {
  if (istio.revisions.some((r) => r.name === target)) return target;
  return istio.tags[target];
}
