// The second half of a canary step, as resources of the stack: the workloads of namespaces whose
// revision changed are restarted, so that their pods are injected again by the new revision.
//
// The plan is made from the cluster as it is (observe.ts): a Deployment, StatefulSet or DaemonSet
// in a namespace of obs:istio.namespaces, or outside it where its namespace's or its pods' own
// label follows a tag of the stack (guard.ts migrationTarget), restarts when one of its pods runs a sidecar injected
// by another revision than its namespace's (after this update). That covers a moved tag, a
// relabelled namespace and an adopted legacy `istio-injection` namespace (index.ts removes the
// label first) alike, and it converges: whatever a killed run, a failed rollout or a hand-made
// restart left behind is restarted by the next `up`.
//
// A restart is a server-side-apply Patch resource with a fixed field manager that sets one pod-
// template annotation (RESTART_ANNOTATION) and nothing else; the provider then waits for the
// rollout (customTimeouts bound it; the error names the resource, i.e. the workload). Patches
// are retained on delete: deleting one would relinquish the annotation, which removes it from the
// template and rolls the workload again. So removing the stack, or a namespace from it, leaves the
// workloads as they run. A workload restarted once keeps its Patch with the value it has (read
// from the cluster), so the next preview plans no change.
import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { IstioConfig } from "./config.js";
import { FIELD_MANAGER_ANNOTATION } from "../k8s/objects.js";
import { type MeshWorkload, type ObservedMesh, RESTART_ANNOTATION, type WorkloadKind } from "./guard.js";

/** The field manager of every migration patch: fixed, so a later patch of the same workload owns what an earlier one set. */
export const MIGRATION_FIELD_MANAGER = "observability-stack-istio-migration";

export interface PlannedRestart {
  readonly workload: MeshWorkload;
  /** The revision its pods move to. */
  readonly to: string;
  /** Revisions of its pods now, with how many pods each. */
  readonly from: Readonly<Record<string, number>>;
  /** RESTART_ANNOTATION's new value: the target revision and a digest of the pods it replaces. */
  readonly value: string;
}

export interface MigrationPlan {
  /** Workloads to restart, in batches (each waits for the previous one's rollouts). */
  readonly batches: readonly (readonly PlannedRestart[])[];
  /** Workloads restarted by an earlier run: their Patch stays, with the value they have (no restart). */
  readonly kept: readonly { readonly workload: MeshWorkload; readonly value: string }[];
}

export const workloadId = (w: Pick<MeshWorkload, "kind" | "namespace" | "name">) => `${w.namespace}/${w.kind.toLowerCase()}/${w.name}`;

/**
 * What this update restarts: `target` gives a workload's revision after the update (guard.ts
 * migrationTarget: config's namespaces, namespaces and pods that follow its tags), undefined for a
 * workload the stack does not decide, which is never looked at. Pods without a sidecar never make
 * a workload restart.
 */
export function planMigration(target: (w: MeshWorkload) => string | undefined, observed: ObservedMesh, batchSize: number): MigrationPlan {
  const restarts: PlannedRestart[] = [];
  const kept: { workload: MeshWorkload; value: string }[] = [];
  const workloads = [...(observed.workloads ?? [])].sort((a, b) => workloadId(a).localeCompare(workloadId(b)));
  for (const w of workloads) {
    const to = target(w);
    if (to === undefined) continue;
    const stale = (observed.pods ?? []).filter((p) => p.namespace === w.namespace && p.owner?.kind === w.kind && p.owner.name === w.name && p.revision !== undefined && p.revision !== to);
    if (stale.length) {
      const from: Record<string, number> = {};
      for (const p of stale) from[p.revision!] = (from[p.revision!] ?? 0) + 1;
      const digest = createHash("sha256").update(stale.map((p) => p.uid || p.name).sort().join(",")).digest("hex").slice(0, 10);
      restarts.push({ workload: w, to, from, value: `${to}-${digest}` });
    } else if (w.restartedFor) {
      kept.push({ workload: w, value: w.restartedFor });
    }
  }
  const size = Math.max(1, Math.floor(batchSize));
  const batches: PlannedRestart[][] = [];
  for (let i = 0; i < restarts.length; i += size) batches.push(restarts.slice(i, i + size));
  return { batches, kept };
}

/** One line per restart, for the log and the reviewer (`shop/deployment/web: 2 pod(s) on 1-30 -> 1-31`). */
export function describeRestart(r: PlannedRestart): string {
  return `${workloadId(r.workload)}: ${Object.entries(r.from).map(([rev, n]) => `${n} pod(s) on ${rev}`).join(", ")} -> ${r.to}`;
}

const PATCH_TYPES: Record<WorkloadKind, typeof k8s.apps.v1.DeploymentPatch | typeof k8s.apps.v1.StatefulSetPatch | typeof k8s.apps.v1.DaemonSetPatch> = {
  Deployment: k8s.apps.v1.DeploymentPatch,
  StatefulSet: k8s.apps.v1.StatefulSetPatch,
  DaemonSet: k8s.apps.v1.DaemonSetPatch,
};

/** The only change a migration makes to a workload: one pod-template annotation, under its own field manager. */
export function restartPatchArgs(w: Pick<MeshWorkload, "namespace" | "name">, value: pulumi.Input<string>) {
  return {
    metadata: { name: w.name, namespace: w.namespace, annotations: { [FIELD_MANAGER_ANNOTATION]: MIGRATION_FIELD_MANAGER } },
    spec: { template: { metadata: { annotations: { [RESTART_ANNOTATION]: value } } } },
  };
}

export interface IstioMigrationArgs {
  readonly istio: IstioConfig;
  readonly plan: MigrationPlan;
  /** What must be in place before the first restart: the control plane (tags, namespace labels, istiods). */
  readonly after: pulumi.Input<pulumi.Resource>[];
}

export class IstioMigration extends pulumi.ComponentResource {
  /** Workloads this update restarts, as ns/kind/name. */
  public readonly restarting: string[];

  constructor(name: string, args: IstioMigrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:istio:Migration", name, {}, opts);
    const { plan } = args;
    const { pauseSeconds, rolloutTimeoutSeconds } = args.istio.migration;
    const timeouts = { create: `${rolloutTimeoutSeconds}s`, update: `${rolloutTimeoutSeconds}s` };
    const retained = { parent: this, retainOnDelete: true };

    for (const k of plan.kept) new PATCH_TYPES[k.workload.kind](`${name}/${workloadId(k.workload)}`, restartPatchArgs(k.workload, k.value), { ...retained, customTimeouts: timeouts });

    let previous: pulumi.Resource[] = [];
    const total = plan.batches.reduce((n, b) => n + b.length, 0);
    this.restarting = [];
    plan.batches.forEach((batch, i) => {
      const label = `batch ${i + 1}/${plan.batches.length}`;
      pulumi.log.info(`istio migration ${label}: restarting ${batch.map(describeRestart).join("; ")}`, this);
      // the pause: the batch's inputs resolve pauseSeconds after the previous batch's rollouts (up only;
      // a preview shows the same inputs at once)
      const after = previous;
      const value = (r: PlannedRestart): pulumi.Input<string> =>
        i === 0 || pauseSeconds === 0 || pulumi.runtime.isDryRun()
          ? r.value
          : pulumi.all(after.map((p) => (p as pulumi.CustomResource).id)).apply(async () => {
              pulumi.log.info(`istio migration: ${label} waits ${pauseSeconds}s after the previous batch`, this);
              await new Promise((resolve) => setTimeout(resolve, pauseSeconds * 1000));
              return r.value;
            });
      previous = batch.map((r) => {
        this.restarting.push(workloadId(r.workload));
        return new PATCH_TYPES[r.workload.kind](`${name}/${workloadId(r.workload)}`, restartPatchArgs(r.workload, value(r)), { ...retained, customTimeouts: timeouts, dependsOn: [...args.after, ...after] });
      });
    });
    if (total) pulumi.log.info(`istio migration: ${total} workload(s) restart in ${plan.batches.length} batch(es) of up to ${args.istio.migration.batchSize}, each rollout bounded by ${rolloutTimeoutSeconds}s`, this);
    this.registerOutputs({ restarting: this.restarting });
  }
}
