// Issue 16: Kafka (SASL/PLAIN) and Cassandra (PasswordAuthenticator) with the passwords from
// `obs:jaeger.kafkaPassword` / `.cassandraPassword`: where they go, and where they never go.
import { describe, expect, it } from "vitest";
import { AUTH_SECRETS, cassandraAuthData, cassandraBootstrapCql, cassandraLockdownCql, kafkaAuthData, kafkaBrokerJaas, kafkaClientProperties, kafkaExporterArgsFile } from "../../../components/jaeger/auth.js";
import { parseJaegerConfig, takeJaegerSecrets } from "../../../components/jaeger/config.js";
import { collectorConfig, ingesterConfig, queryConfig } from "../../../components/jaeger/jaeger-config.js";
import { kafkaEnv, kafkaProperties } from "../../../components/jaeger/kafka.js";
import { kafkaExporterArgs, kafkaExporterDeploymentSpec } from "../../../components/jaeger/kafka-exporter.js";
import { roleDeploymentSpec, waitContainer } from "../../../components/jaeger/workloads.js";
import type { Issue } from "../../../lib/schema.js";

const config = parseJaegerConfig({}).config!;
const input = { namespace: "observability", clusterDomain: "cluster.local", config };
const kafkaInput = { ...input, config: config.kafka };
const KAFKA_PW = "k-pw-0123456789";
const CASS_PW = "c-pw-o'brien";

describe("secret keys of obs:jaeger", () => {
  const take = (raw: Record<string, unknown>) => {
    const issues: Issue[] = [];
    const r = takeJaegerSecrets(raw, issues);
    return { ...r, issues: issues.map((i) => `${i.key} = ${JSON.stringify(i.value)}: ${i.allowed}`) };
  };

  it("takes both passwords out of the section the schema parses", () => {
    const r = take({ kafka: { brokers: 3 }, kafkaPassword: KAFKA_PW, cassandraPassword: CASS_PW });
    expect(r.issues).toEqual([]);
    expect(r.secrets).toEqual({ kafkaPassword: KAFKA_PW, cassandraPassword: CASS_PW });
    expect(r.rest).toEqual({ kafka: { brokers: 3 } });
  });

  it("requires both, naming the command that sets them, never the value", () => {
    expect(take({}).issues).toEqual([
      "obs:jaeger.kafkaPassword = undefined: required: a secret (pulumi config set --secret --path obs:jaeger.kafkaPassword <password>)",
      "obs:jaeger.cassandraPassword = undefined: required: a secret (pulumi config set --secret --path obs:jaeger.cassandraPassword <password>)",
    ]);
    const bad = take({ kafkaPassword: 'with"quote', cassandraPassword: " spaced " });
    expect(bad.issues).toEqual([
      'obs:jaeger.kafkaPassword = "(secret)": a password without " or \\ (it is quoted in Kafka\'s JAAS config)',
      "obs:jaeger.cassandraPassword = \"(secret)\": a password without leading or trailing spaces (cqlsh's credentials file and the properties files trim them)",
    ]);
    expect(take({ kafkaPassword: "short", cassandraPassword: CASS_PW }).issues).toEqual(['obs:jaeger.kafkaPassword = "(secret)": a password of at least 6 characters']);
  });
});

describe("Kafka: SASL/PLAIN on the client and inter-broker listener", () => {
  it("the broker's properties hold no password; its JAAS comes from the Secret through env", () => {
    const props = kafkaProperties(kafkaInput);
    expect(props).toMatchObject({ listeners: "SASL://:9092,CONTROLLER://:9093", "listener.security.protocol.map": "SASL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT", "inter.broker.listener.name": "SASL", "sasl.enabled.mechanisms": "PLAIN", "sasl.mechanism.inter.broker.protocol": "PLAIN" });
    const env = kafkaEnv(kafkaInput);
    expect(env).toContainEqual({ name: "KAFKA_LISTENER_NAME_SASL_PLAIN_SASL_JAAS_CONFIG", valueFrom: { secretKeyRef: { name: AUTH_SECRETS.kafka, key: "jaas" } } });
    expect(JSON.stringify(env)).not.toMatch(/password/i);
  });

  it("the Secret: the broker's JAAS with its one user, the tools' client config, the exporter's argument file", () => {
    const d = kafkaAuthData(KAFKA_PW);
    expect(d.jaas).toBe(kafkaBrokerJaas(KAFKA_PW));
    expect(d.jaas).toBe(`org.apache.kafka.common.security.plain.PlainLoginModule required username="jaeger" password="${KAFKA_PW}" user_jaeger="${KAFKA_PW}";`);
    expect(d["client.properties"]).toBe(kafkaClientProperties(KAFKA_PW));
    expect(d["client.properties"]).toContain("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n");
    expect(d["exporter.args"]).toBe(kafkaExporterArgsFile(KAFKA_PW));
    expect(d["exporter.args"]!.split("\n")).toEqual(["--sasl.enabled", "--sasl.mechanism=plain", "--sasl.username=jaeger", `--sasl.password=${KAFKA_PW}`, ""]);
  });

  it("kafka-exporter reads its SASL arguments from the Secret's file, never from its command line", () => {
    const args = kafkaExporterArgs(kafkaInput);
    expect(args.at(-1)).toBe("@/etc/kafka-auth/exporter.args");
    expect(args.join(" ")).not.toContain("sasl.password");
    const spec = kafkaExporterDeploymentSpec({ ...input, config: config.kafka, labels: {}, selector: {}, secretsHash: "h1" }) as any;
    expect(spec.template.metadata.annotations["observability-stack/secrets-hash"]).toBe("h1");
    expect(spec.template.spec.volumes).toEqual([{ name: "kafka-auth", secret: { secretName: AUTH_SECRETS.kafka, defaultMode: 0o440, items: [{ key: "exporter.args", path: "exporter.args" }] } }]);
    expect(spec.template.spec.securityContext.fsGroup).toBe(65534);
  });
});

describe("Cassandra: PasswordAuthenticator and the jaeger role", () => {
  it("the Secret: cqlsh credentials files and the role CQL, quotes escaped", () => {
    const d = cassandraAuthData(CASS_PW);
    expect(d.credentials).toBe(`[PlainTextAuthProvider]\nusername = jaeger\npassword = ${CASS_PW}\n`);
    expect(d["bootstrap.cql"]).toBe(cassandraBootstrapCql(CASS_PW));
    expect(cassandraBootstrapCql(CASS_PW)).toBe("CREATE ROLE IF NOT EXISTS jaeger WITH PASSWORD = 'c-pw-o''brien' AND LOGIN = true AND SUPERUSER = true;\n");
    expect(cassandraLockdownCql(CASS_PW)).toMatch(/^ALTER ROLE cassandra WITH PASSWORD = '[0-9a-f]{64}' AND LOGIN = false AND SUPERUSER = false;\n$/);
    expect(cassandraLockdownCql(CASS_PW)).toBe(cassandraLockdownCql(CASS_PW));
  });
});

describe("the Jaeger roles log in with the password from their env", () => {
  it("configs name `${env:...}`; the Deployments take it from the Secrets", () => {
    const ingester = ingesterConfig(input) as any;
    expect(ingester.receivers.kafka.auth).toEqual({ sasl: { mechanism: "PLAIN", username: "jaeger", password: "${env:KAFKA_PASSWORD}" } });
    expect((collectorConfig(input) as any).exporters.kafka.auth).toEqual(ingester.receivers.kafka.auth);
    for (const c of [ingester, queryConfig(input)]) {
      expect(c.extensions.jaeger_storage.backends.cassandra.cassandra.connection.auth).toEqual({ basic: { username: "jaeger", password: "${env:CASSANDRA_PASSWORD}", allowed_authenticators: ["org.apache.cassandra.auth.PasswordAuthenticator"] } });
    }
    const d = roleDeploymentSpec({ role: "ingester", instance: "tracing", config, configMap: "cm", initContainers: [waitContainer("kafka", "w"), waitContainer("cassandra", "w")], secretsHash: "h2" }) as any;
    expect(d.template.spec.containers[0].env).toEqual([
      { name: "KAFKA_PASSWORD", valueFrom: { secretKeyRef: { name: AUTH_SECRETS.kafka, key: "password" } } },
      { name: "CASSANDRA_PASSWORD", valueFrom: { secretKeyRef: { name: AUTH_SECRETS.cassandra, key: "password" } } },
    ]);
    expect(d.template.metadata.annotations["observability-stack/secrets-hash"]).toBe("h2");
    expect(d.template.spec.volumes.map((v: any) => v.name)).toEqual(["config", "tmp", "kafka-auth", "cassandra-auth"]);
    expect(d.template.spec.initContainers.map((c: any) => c.volumeMounts[0].name)).toEqual(["kafka-auth", "cassandra-auth"]);
    const query = roleDeploymentSpec({ role: "query", instance: "tracing", config, configMap: "cm", initContainers: [] }) as any;
    expect(query.template.spec.containers[0].env.map((e: any) => e.name)).toEqual(["CASSANDRA_PASSWORD"]);
  });
});
