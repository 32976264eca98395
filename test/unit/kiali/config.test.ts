import { describe, expect, it } from "vitest";
import type { Issue } from "../../../lib/schema.js";
import { checkKiali, type KialiConfig, type KialiContext, kialiSchema, takeKialiSecrets } from "../../../components/kiali/config.js";

const PROD: KialiContext = { environment: "prod", prometheusEnabled: true };
const LOCAL: KialiContext = { environment: "local", prometheusEnabled: true };

function parse(raw: unknown, ctx: KialiContext = PROD): { config?: KialiConfig; problems: string[]; issues: Issue[] } {
  const issues: Issue[] = [];
  const config = kialiSchema.parse(raw, "obs:kiali", issues);
  if (config) checkKiali(config, ctx, issues);
  return { config, issues, problems: issues.map((i) => `${i.key} = ${JSON.stringify(i.value)}: ${i.allowed}`) };
}

describe("obs:kiali schema", () => {
  it("defaults to enabled, token login, read-only, one replica, not exposed", () => {
    const { config, problems } = parse(undefined);
    expect(problems).toEqual([]);
    expect(config).toMatchObject({ enabled: true, viewOnly: true, replicas: 1, expose: false, host: "", tlsSecretName: "kiali-tls" });
    expect(config!.auth.strategy).toBe("token");
    expect(config!.auth.openid).toEqual({ issuerUri: "", clientId: "", usernameClaim: "sub", scopes: ["openid", "profile", "email"] });
    expect(config!.resources).toEqual({ requests: { cpu: "100m", memory: "256Mi", "ephemeral-storage": "100Mi" }, limits: { cpu: "1", memory: "1Gi", "ephemeral-storage": "1Gi" } });
  });

  it("reports every field problem at once, with key, value and what is allowed", () => {
    const { problems } = parse({ enabled: "yes", auth: { strategy: "openshift" }, viewOnly: 1, replicas: 9, expose: "no", resources: { limits: { memory: "lots" } }, bogus: true });
    expect(problems).toEqual([
      expect.stringMatching(/^obs:kiali\.bogus = true: a known key \(unknown key; known: enabled, auth, viewOnly, replicas, expose, host, tlsSecretName, resources\)$/),
      'obs:kiali.enabled = "yes": true or false',
      'obs:kiali.auth.strategy = "openshift": one of anonymous, token, openid, header',
      "obs:kiali.viewOnly = 1: true or false",
      "obs:kiali.replicas = 9: an integer >= 1 and <= 5",
      'obs:kiali.expose = "no": true or false',
      'obs:kiali.resources.limits.memory = "lots": a Kubernetes quantity such as 500m, 2, 512Mi or 10Gi',
    ]);
  });
});

describe("checkKiali", () => {
  it("refuses anonymous login outside local, naming obs:environment's value", () => {
    expect(parse({ auth: { strategy: "anonymous" } }).issues).toEqual([
      { key: "obs:kiali.auth.strategy", value: "anonymous", allowed: 'one of token, openid, header (anonymous is allowed only where obs:environment is "local"; here it is "prod")' },
    ]);
    expect(parse({ auth: { strategy: "anonymous" } }, { environment: "staging", prometheusEnabled: true }).problems[0]).toContain('here it is "staging"');
    expect(parse({ auth: { strategy: "anonymous" } }, LOCAL).problems).toEqual([]);
    for (const strategy of ["token", "header"]) expect(parse({ auth: { strategy } }).problems).toEqual([]);
  });

  it("refuses Kiali without Prometheus", () => {
    expect(parse({}, { environment: "prod", prometheusEnabled: false }).issues).toEqual([
      { key: "obs:kiali.enabled", value: true, allowed: "false while obs:prometheus.enabled is false (Kiali reads every graph and health figure from Prometheus)" },
    ]);
  });

  it("checks nothing when disabled", () => {
    expect(parse({ enabled: false, auth: { strategy: "anonymous" }, expose: true }, { environment: "prod", prometheusEnabled: false }).problems).toEqual([]);
  });

  it("requires a valid host and TLS Secret name when exposed", () => {
    expect(parse({ expose: true }).issues).toEqual([{ key: "obs:kiali.host", value: "", allowed: "a host name (required when obs:kiali.expose is true)" }]);
    expect(parse({ expose: true, host: "Kiali_example" }).issues).toEqual([{ key: "obs:kiali.host", value: "Kiali_example", allowed: "a DNS host name such as kiali.example.com" }]);
    expect(parse({ expose: true, host: "kiali.example.com", tlsSecretName: "Bad Name" }).issues).toEqual([
      { key: "obs:kiali.tlsSecretName", value: "Bad Name", allowed: "a Secret name (DNS-1123 subdomain) in the ingress gateway's namespace" },
    ]);
    expect(parse({ expose: true, host: "kiali.example.com" }).problems).toEqual([]);
  });

  it("requires an https issuer, a client id and the openid scope with OpenID login", () => {
    expect(parse({ auth: { strategy: "openid", openid: { issuerUri: "http://idp.example.com", scopes: ["email"] } } }).issues).toEqual([
      { key: "obs:kiali.auth.openid.issuerUri", value: "http://idp.example.com", allowed: "an https:// issuer URL (required when auth.strategy is openid)" },
      { key: "obs:kiali.auth.openid.clientId", value: "", allowed: "a client id (required when auth.strategy is openid)" },
      { key: "obs:kiali.auth.openid.scopes", value: ["email"], allowed: "a list that includes openid" },
    ]);
    expect(parse({ auth: { strategy: "openid", openid: { issuerUri: "https://idp.example.com/realms/mesh", clientId: "kiali" } } }).problems).toEqual([]);
  });
});

describe("takeKialiSecrets", () => {
  const take = (raw: unknown) => {
    const issues: Issue[] = [];
    return { ...takeKialiSecrets(raw, issues), issues };
  };

  it("moves the secrets out of the section the schema parses", () => {
    const { rest, secrets, issues } = take({ viewOnly: false, signingKey: "0123456789abcdef", oidcClientSecret: "s3cret" });
    expect(issues).toEqual([]);
    expect(rest).toEqual({ viewOnly: false });
    expect(secrets).toEqual({ signingKey: "0123456789abcdef", oidcClientSecret: "s3cret" });
  });

  it("requires a signing key for every strategy but anonymous, and tells how to set it", () => {
    const { issues } = take({});
    expect(issues).toEqual([{ key: "obs:kiali.signingKey", value: undefined, allowed: expect.stringContaining('pulumi config set --secret --path obs:kiali.signingKey "$(openssl rand -hex 16)"') }]);
    expect(take({ auth: { strategy: "header" } }).issues).toHaveLength(1);
    expect(take({ auth: { strategy: "anonymous" } }).issues).toEqual([]);
    expect(take({ enabled: false }).issues).toEqual([]);
    expect(take(undefined).issues).toHaveLength(1);
  });

  it("wants at least 16 characters, and never repeats the value", () => {
    const { issues } = take({ signingKey: "too-short" });
    expect(issues).toEqual([{ key: "obs:kiali.signingKey", value: "(secret)", allowed: "a secret of at least 16 characters (it has 9)" }]);
    expect(JSON.stringify(take({ signingKey: 42 }).issues)).not.toContain("42");
    for (const n of [16, 24, 38, 64]) expect(take({ signingKey: "k".repeat(n) }).issues).toEqual([]);
  });
});
