// Kiali's Kubernetes shapes (Deployment, Service, the exposing route), built by pure
// functions so they are tested without the Pulumi engine; the component only registers them.
import { createHash } from "node:crypto";
import type * as k8s from "@pulumi/kubernetes";
import { contentHash, SECRETS_HASH_ANNOTATION } from "../k8s/hash.js";
import { labels, selectorLabels } from "../k8s/labels.js";
import { scrapeAnnotations } from "../mesh/metrics.js";
import { type RouteInput, virtualServiceSpec } from "../mesh/expose.js";
import type { KialiConfig } from "./config.js";
import { CONFIG_DIR, CONFIG_FILE, KIALI_METRICS_PORT, KIALI_PORT, OIDC_SECRET_DIR, SIGNING_KEY_DIR, WEB_ROOT } from "./settings.js";

export const KIALI_IMAGE = "quay.io/kiali/kiali:v2.26.0";
export const CONFIG_HASH_ANNOTATION = "checksum/config";
/** The image's own non-root user. */
const KIALI_USER = 1000;

export const configHash = (text: string): string => contentHash(text);

/**
 * Kiali's session key from the configured signing key: Kiali encrypts its session cookies with
 * AES and refuses keys that are not 16, 24 or 32 bytes, so any secret of 16 or more characters
 * is hashed to 32 hex characters (deterministic: no change between runs).
 */
export const sessionKey = (signingKey: string): string => createHash("sha256").update(`kiali-session\0${signingKey}`).digest("hex").slice(0, 32);

export interface DeploymentSpecInput {
  readonly instance: string;
  readonly config: KialiConfig;
  readonly serviceAccountName: string;
  readonly configMapName: string;
  /** sha256 of config.yaml: a change rolls the pods. */
  readonly configHash: string;
  /** Secret holding the session signing key (every strategy but anonymous). */
  readonly signingKeySecret?: string;
  /** Secret holding the OpenID client secret (strategy openid, when one is configured). */
  readonly oidcSecret?: string;
  /** secretHash of the signing key and the client secret: a rotation rolls Kiali (it reads them at start). */
  readonly secretsHash?: string;
}

export function kialiDeploymentSpec(i: DeploymentSpecInput): k8s.types.input.apps.v1.DeploymentSpec {
  const probe = { httpGet: { path: `${WEB_ROOT}/healthz`, port: "http" }, periodSeconds: 30, timeoutSeconds: 5 };
  const secretVolumes = [
    ...(i.signingKeySecret ? [{ volume: { name: "signing-key", secret: { secretName: i.signingKeySecret } }, mountPath: SIGNING_KEY_DIR }] : []),
    ...(i.oidcSecret ? [{ volume: { name: "oidc-secret", secret: { secretName: i.oidcSecret } }, mountPath: OIDC_SECRET_DIR }] : []),
  ];
  return {
    replicas: i.config.replicas,
    selector: { matchLabels: selectorLabels("kiali", i.instance) },
    template: {
      metadata: {
        // Kiali only reads the mesh; it needs no sidecar of its own.
        labels: { ...labels("kiali", i.instance, "mesh-console"), "sidecar.istio.io/inject": "false" },
        annotations: { [CONFIG_HASH_ANNOTATION]: i.configHash, ...(i.secretsHash ? { [SECRETS_HASH_ANNOTATION]: i.secretsHash } : {}), ...scrapeAnnotations(KIALI_METRICS_PORT) },
      },
      spec: {
        serviceAccountName: i.serviceAccountName,
        securityContext: { runAsNonRoot: true, runAsUser: KIALI_USER, runAsGroup: KIALI_USER, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
          {
            name: "kiali",
            image: KIALI_IMAGE,
            command: ["/opt/kiali/kiali", "-config", `${CONFIG_DIR}/${CONFIG_FILE}`],
            env: [{ name: "ACTIVE_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } }],
            ports: [
              { name: "http", containerPort: KIALI_PORT },
              { name: "http-metrics", containerPort: KIALI_METRICS_PORT },
            ],
            readinessProbe: { ...probe, initialDelaySeconds: 5 },
            // alive when it accepts connections; readiness (healthz) decides whether it gets traffic
            livenessProbe: { tcpSocket: { port: "http" }, periodSeconds: 30, timeoutSeconds: 5, initialDelaySeconds: 5 },
            // the first cache sync of a big cluster can take a while before /healthz answers
            startupProbe: { ...probe, periodSeconds: 10, failureThreshold: 12 },
            resources: { requests: { ...i.config.resources.requests }, limits: { ...i.config.resources.limits } },
            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
            volumeMounts: [{ name: "config", mountPath: CONFIG_DIR, readOnly: true }, ...secretVolumes.map((s) => ({ name: s.volume.name, mountPath: s.mountPath, readOnly: true }))],
          },
        ],
        volumes: [{ name: "config", configMap: { name: i.configMapName } }, ...secretVolumes.map((s) => s.volume)],
      },
    },
  };
}

export function kialiServiceSpec(instance: string): k8s.types.input.core.v1.ServiceSpec {
  return {
    type: "ClusterIP",
    selector: selectorLabels("kiali", instance),
    ports: [
      { name: "http", port: KIALI_PORT, targetPort: "http", appProtocol: "http" },
      { name: "http-metrics", port: KIALI_METRICS_PORT, targetPort: "http-metrics", appProtocol: "http" },
    ],
  };
}

/** The shared VirtualService, with `/` sent on to Kiali's web root (it serves only under /kiali). */
export function kialiVirtualServiceSpec(i: RouteInput): Record<string, unknown> {
  const spec = virtualServiceSpec(i);
  return { ...spec, http: [{ match: [{ uri: { exact: "/" } }], redirect: { uri: `${WEB_ROOT}/` } }, ...(spec.http as unknown[])] };
}
