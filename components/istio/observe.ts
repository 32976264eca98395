// Read-only look at a cluster's mesh through the Kubernetes API (@kubernetes/client-node, the same
// kubeconfig and context as the stack's provider; no kubectl binary): the istiods, every pod with
// what its injector wrote, namespaces, workloads and revision tags. Used by the guard rails and the
// workload migration at preview and up, and by `canary status`.
import * as kc from "@kubernetes/client-node";
import type { Target } from "../../lib/kube.js";
import { ISTIO_NAMESPACE } from "../k8s/labels.js";
import { meshFromObjects, type ObjectLike, type ObservedMesh, type PodLike } from "./guard.js";

const REQUEST_TIMEOUT_MS = 20_000;

/** A client config for a target: its kubeconfig file (else KUBECONFIG / ~/.kube/config) and context. */
export function kubeConfigFor(t: Target): kc.KubeConfig {
  const config = new kc.KubeConfig();
  if (t.kubeconfig) config.loadFromFile(t.kubeconfig);
  else config.loadFromDefault();
  if (t.context) {
    if (!config.getContextObject(t.context)) throw new Error(`kubeconfig ${t.kubeconfig ?? "(default)"} has no context '${t.context}' (contexts: ${config.getContexts().map((c) => c.name).join(", ") || "none"})`);
    config.setCurrentContext(t.context);
  }
  return config;
}

async function bounded<T>(what: string, t: Target, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} (context ${t.context ?? "current"}): no answer within ${REQUEST_TIMEOUT_MS / 1000}s`)), REQUEST_TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, timeout]);
  } catch (e) {
    const err = e as { code?: number; body?: unknown; message?: string };
    const body = typeof err.body === "string" ? err.body : err.body ? JSON.stringify(err.body) : "";
    throw new Error(`reading the mesh, ${what} (context ${t.context ?? "current"}): ${err.message ?? String(e)}${body && !err.message?.includes(body) ? ` ${body}` : ""}`);
  } finally {
    clearTimeout(timer);
  }
}

const withKind = (kind: string, items: readonly object[]): ObjectLike[] => items.map((i) => ({ ...(i as ObjectLike), kind }));

/** The reads run at once: the guard runs before every preview and up. */
export async function observeMesh(t: Target): Promise<ObservedMesh> {
  const config = kubeConfigFor(t);
  const core = config.makeApiClient(kc.CoreV1Api);
  const apps = config.makeApiClient(kc.AppsV1Api);
  const admission = config.makeApiClient(kc.AdmissionregistrationV1Api);
  const [istiods, pods, namespaces, deployments, statefulSets, daemonSets, tagWebhooks] = await Promise.all([
    bounded("list istiod Deployments", t, apps.listNamespacedDeployment({ namespace: ISTIO_NAMESPACE, labelSelector: "app=istiod" })),
    bounded("list pods", t, core.listPodForAllNamespaces({})),
    bounded("list namespaces", t, core.listNamespace({})),
    bounded("list Deployments", t, apps.listDeploymentForAllNamespaces({})),
    bounded("list StatefulSets", t, apps.listStatefulSetForAllNamespaces({})),
    bounded("list DaemonSets", t, apps.listDaemonSetForAllNamespaces({})),
    bounded("list tag webhooks", t, admission.listMutatingWebhookConfiguration({ labelSelector: "istio.io/tag" })),
  ]);
  return meshFromObjects({
    istiods: istiods.items as ObjectLike[],
    pods: pods.items as PodLike[],
    namespaces: namespaces.items as ObjectLike[],
    workloads: [...withKind("Deployment", deployments.items), ...withKind("StatefulSet", statefulSets.items), ...withKind("DaemonSet", daemonSets.items)],
    tagWebhooks: tagWebhooks.items as ObjectLike[],
  });
}
