// The `obs:kiali` config section: schema (defaults live here), the checks that span fields
// and other sections, and the secrets kept out of the typed config. Pure: no Pulumi imports.
import { bool, type Infer, type Issue, list, num, obj, oneOf, resources, type Shape, str } from "../../lib/schema.js";
import { extractSecrets, setSecretCommand } from "../../lib/secrets.js";
import { checkExpose, exposeFields } from "../mesh/expose.js";

const KEY = "obs:kiali";

export const AUTH_STRATEGIES = ["anonymous", "token", "openid", "header"] as const;
export type AuthStrategy = (typeof AUTH_STRATEGIES)[number];

const shape = {
  enabled: bool({ doc: "deploy Kiali (needs obs:prometheus.enabled)", default: true }),
  auth: obj(
    {
      strategy: oneOf(AUTH_STRATEGIES, { doc: "how users log in: token (a ServiceAccount token, see README), openid, header (a proxy in front sets it), anonymous (local stack only)", default: "token" }),
      openid: obj(
        {
          issuerUri: str({ doc: "OpenID issuer URL; required with strategy openid", default: "" }),
          clientId: str({ doc: "OpenID client id; required with strategy openid", default: "" }),
          usernameClaim: str({ doc: "claim that names the user", default: "sub" }),
          scopes: list(str({ doc: "scope" }), { doc: "scopes requested", default: ["openid", "profile", "email"] }),
        },
        { doc: "OpenID Connect (strategy openid); the client secret is the secret obs:kiali.oidcClientSecret" },
      ),
    },
    { doc: "Kiali login" },
  ),
  viewOnly: bool({ doc: "read-only: the ClusterRole grants get/list/watch only and the UI hides every write action; false adds the write verbs Kiali's actions need (Istio config, workload patches)", default: true }),
  replicas: num({ doc: "Kiali replicas (stateless; sessions are signed cookies)", default: 1, min: 1, max: 5, integer: true }),
  ...exposeFields("Kiali", "kiali-tls"),
  resources: resources("Kiali resources", { cpu: "100m", memory: "256Mi" }, { cpu: "1", memory: "1Gi" }),
} satisfies Shape;

/** The `obs:kiali` section. */
export const kialiSchema = obj(shape, { doc: "Kiali: mesh topology and health, read from the stack's Prometheus, Jaeger and Grafana" });
export type KialiConfig = Infer<typeof shape>;

const HTTPS_URL = /^https:\/\/[^\s/]+(\/\S*)?$/;

/** What checkKiali needs from the rest of the stack. */
export interface KialiContext {
  /** obs:environment; anonymous login is allowed only in "local". */
  readonly environment: string;
  /** obs:prometheus.enabled. */
  readonly prometheusEnabled: boolean;
}

/** Checks spanning fields and sections; pushes one issue per problem. Call only with a parsed section. */
export function checkKiali(c: KialiConfig, ctx: KialiContext, issues: Issue[]): void {
  if (!c.enabled) return;
  if (!ctx.prometheusEnabled) issues.push({ key: `${KEY}.enabled`, value: true, allowed: "false while obs:prometheus.enabled is false (Kiali reads every graph and health figure from Prometheus)" });
  if (c.auth.strategy === "anonymous" && ctx.environment !== "local") {
    issues.push({ key: `${KEY}.auth.strategy`, value: c.auth.strategy, allowed: `one of token, openid, header (anonymous is allowed only where obs:environment is "local"; here it is ${JSON.stringify(ctx.environment)})` });
  }
  if (c.auth.strategy === "openid") {
    const o = c.auth.openid;
    if (!HTTPS_URL.test(o.issuerUri)) issues.push({ key: `${KEY}.auth.openid.issuerUri`, value: o.issuerUri, allowed: "an https:// issuer URL (required when auth.strategy is openid)" });
    if (!o.clientId) issues.push({ key: `${KEY}.auth.openid.clientId`, value: o.clientId, allowed: "a client id (required when auth.strategy is openid)" });
    if (!o.scopes.includes("openid")) issues.push({ key: `${KEY}.auth.openid.scopes`, value: o.scopes, allowed: "a list that includes openid" });
  }
  checkExpose(c, KEY, issues);
}

/** Secret keys of `obs:kiali`: kept out of the typed config, handed to the component as Pulumi secrets. */
export const KIALI_SECRET_KEYS = ["signingKey", "oidcClientSecret"] as const;
export type KialiSecrets = { readonly signingKey?: string; readonly oidcClientSecret?: string };

/** Shortest accepted signing key; the component derives Kiali's 32-byte AES key from it (sessionKey). */
export const MIN_SIGNING_KEY_LENGTH = 16;

/**
 * Splits the raw `obs:kiali` value (secrets already decrypted) into the part the schema
 * parses and the secrets. Every strategy but anonymous needs `signingKey` (at least 16
 * characters); issues never repeat a secret's value.
 */
export function takeKialiSecrets(raw: unknown, issues: Issue[]): { rest: unknown; secrets?: KialiSecrets } {
  const { rest, found, disabled } = extractSecrets(raw, KEY, KIALI_SECRET_KEYS, issues, "<value>");
  if (disabled) return { rest };
  const strategy = ((rest as { auth?: { strategy?: unknown } }).auth)?.strategy ?? "token";
  if (strategy !== "anonymous") {
    const key = found.signingKey;
    if (key === undefined) {
      if (!issues.some((i) => i.key === `${KEY}.signingKey`)) issues.push({ key: `${KEY}.signingKey`, value: undefined, allowed: `required with auth.strategy ${String(strategy)}: a secret of at least ${MIN_SIGNING_KEY_LENGTH} characters (${setSecretCommand(`${KEY}.signingKey`, '"$(openssl rand -hex 16)"')})` });
    } else if (key.length < MIN_SIGNING_KEY_LENGTH) {
      issues.push({ key: `${KEY}.signingKey`, value: "(secret)", allowed: `a secret of at least ${MIN_SIGNING_KEY_LENGTH} characters (it has ${key.length})` });
    }
  }
  return { rest, secrets: { ...found } };
}
