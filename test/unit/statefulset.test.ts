// The one headless StatefulSet shape (components/k8s/statefulset.ts) that Kafka and Cassandra share.
import { describe, expect, it } from "vitest";
import { DATA_VOLUME, headlessStatefulSet, type HeadlessStatefulSetInput } from "../../components/k8s/statefulset.js";

const selector = { "app.kubernetes.io/name": "store", "app.kubernetes.io/part-of": "x" };
const input = (over: Partial<HeadlessStatefulSetInput> = {}): HeadlessStatefulSetInput => ({
  name: "store",
  replicas: 3,
  selector,
  podLabels: { ...selector, "app.kubernetes.io/instance": "s" },
  podAnnotations: { "sidecar.istio.io/inject": "false" },
  ports: [{ name: "tcp-client", port: 9000 }, { name: "tcp-peer", port: 9001 }],
  volume: { size: "10Gi", storageClass: "fast" },
  pod: { terminationGracePeriodSeconds: 30, containers: [{ name: "store", image: "store:1", volumeMounts: [{ name: DATA_VOLUME, mountPath: "/data" }] }] },
  ...over,
});

describe("headless StatefulSet", () => {
  it("a headless Service that publishes members before they are ready, on the set's selector and ports", () => {
    expect(headlessStatefulSet(input()).service).toEqual({
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector,
      ports: [{ name: "tcp-client", port: 9000 }, { name: "tcp-peer", port: 9001 }],
    });
  });

  it("a StatefulSet governed by that Service, with the given pods and one retained data claim per pod", () => {
    const i = input({ podManagementPolicy: "Parallel" });
    expect(headlessStatefulSet(i).statefulSet).toEqual({
      serviceName: "store",
      replicas: 3,
      podManagementPolicy: "Parallel",
      selector: { matchLabels: selector },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: { metadata: { labels: i.podLabels, annotations: i.podAnnotations }, spec: i.pod },
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: "fast", resources: { requests: { storage: "10Gi" } } } }],
    });
    expect(DATA_VOLUME).toBe("data");
  });

  it("leaves out what is not set: OrderedReady, the cluster's default StorageClass, pod annotations", () => {
    const s = headlessStatefulSet(input({ volume: { size: "1Gi", storageClass: "" }, podAnnotations: undefined })).statefulSet as any;
    expect(s).not.toHaveProperty("podManagementPolicy");
    expect(s.volumeClaimTemplates[0].spec).toEqual({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } });
    expect(s.template.metadata).toEqual({ labels: input().podLabels });
  });

  it("refuses pods that would not match the selector", () => {
    expect(() => headlessStatefulSet(input({ podLabels: { "app.kubernetes.io/name": "store", "app.kubernetes.io/part-of": "y" } }))).toThrow("StatefulSet store: its pods' labels lack the selector's app.kubernetes.io/part-of=x");
  });
});
