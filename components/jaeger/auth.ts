// Authentication of the tracing backend: Kafka's client listener takes SASL/PLAIN, Cassandra
// runs PasswordAuthenticator, and every client (the Jaeger roles, kafka-exporter, the Jobs,
// the init containers and Kafka's readiness probe) logs in as `jaeger`. The passwords are
// `obs:jaeger.kafkaPassword` and `obs:jaeger.cassandraPassword` (Pulumi secrets); they reach
// the pods only through the Secrets built here (files and env from secretKeyRef), never a
// command line or a ConfigMap.
import { createHash } from "node:crypto";

/** The user Jaeger, the exporter and the Jobs log in as, on Kafka and on Cassandra. */
export const AUTH_USER = "jaeger";
export const KAFKA_SASL_MECHANISM = "PLAIN";
/**
 * Name of Kafka's client and inter-broker listener (security protocol SASL_PLAINTEXT). Not
 * `SASL_PLAINTEXT`: the apache/kafka image's start script wants a JAAS file in KAFKA_OPTS for an
 * advertised `SASL_*://` listener, and ours comes from listener.name.sasl.plain.sasl.jaas.config.
 */
export const KAFKA_CLIENT_LISTENER = "SASL";

/** The Secrets and where the pods mount them. */
export const AUTH_SECRETS = { kafka: "jaeger-kafka-auth", cassandra: "jaeger-cassandra-auth" } as const;
export const AUTH_DIRS = { kafka: "/etc/kafka-auth", cassandra: "/etc/cassandra-auth" } as const;
/** Keys of the Kafka Secret. */
export const KAFKA_AUTH_KEYS = { password: "password", jaas: "jaas", clientProperties: "client.properties", exporterArgs: "exporter.args" } as const;
/** Keys of the Cassandra Secret. */
export const CASSANDRA_AUTH_KEYS = { password: "password", credentials: "credentials", defaultCredentials: "default-credentials", bootstrap: "bootstrap.cql", lockdown: "lockdown.cql" } as const;
/** Env names the Jaeger configs read with `${env:...}`. */
export const PASSWORD_ENV = { kafka: "KAFKA_PASSWORD", cassandra: "CASSANDRA_PASSWORD" } as const;
/** The CLI tools' config for the client listener (kafka-topics.sh --command-config). */
export const KAFKA_CLIENT_CONFIG = `${AUTH_DIRS.kafka}/${KAFKA_AUTH_KEYS.clientProperties}`;

/**
 * Characters a Kafka password may not hold: it is quoted in JAAS (`"`, `\`) and written into
 * properties files and an argument file, one per line.
 */
export const KAFKA_PASSWORD_FORBIDDEN = /["\\]/;

/** JAAS of the broker's listener: the inter-broker login and the one user it accepts. */
export function kafkaBrokerJaas(password: string): string {
  return `org.apache.kafka.common.security.plain.PlainLoginModule required username="${AUTH_USER}" password="${password}" user_${AUTH_USER}="${password}";`;
}

/** JAAS of a client (the CLI tools). */
export function kafkaClientJaas(password: string): string {
  return `org.apache.kafka.common.security.plain.PlainLoginModule required username="${AUTH_USER}" password="${password}";`;
}

/** The CLI tools' client properties (`--command-config`). */
export function kafkaClientProperties(password: string): string {
  return [`security.protocol=SASL_PLAINTEXT`, `sasl.mechanism=${KAFKA_SASL_MECHANISM}`, `sasl.jaas.config=${kafkaClientJaas(password)}`, ""].join("\n");
}

/** kafka-exporter's argument file (`@file`, one argument per line): SASL on, the user and password. */
export function kafkaExporterArgsFile(password: string): string {
  return ["--sasl.enabled", `--sasl.mechanism=${KAFKA_SASL_MECHANISM.toLowerCase()}`, `--sasl.username=${AUTH_USER}`, `--sasl.password=${password}`, ""].join("\n");
}

/** Content of the Kafka Secret. */
export function kafkaAuthData(password: string): Record<string, string> {
  return {
    [KAFKA_AUTH_KEYS.password]: password,
    [KAFKA_AUTH_KEYS.jaas]: kafkaBrokerJaas(password),
    [KAFKA_AUTH_KEYS.clientProperties]: kafkaClientProperties(password),
    [KAFKA_AUTH_KEYS.exporterArgs]: kafkaExporterArgsFile(password),
  };
}

/** Cassandra's default superuser, which PasswordAuthenticator creates on a new cluster. */
export const CASSANDRA_DEFAULT_ROLE = "cassandra";

/** JVM options that turn PasswordAuthenticator on over the image's cassandra.yaml (Cassandra 4.1+ `cassandra.settings.*`). */
export const CASSANDRA_AUTH_JVM_OPTS = ["-Dcassandra.config.allow_system_properties=true", "-Dcassandra.settings.authenticator=PasswordAuthenticator"];

const cqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** A cqlsh credentials file (`--credentials`, read without interpolation). */
export function cqlshCredentials(user: string, password: string): string {
  return `[PlainTextAuthProvider]\nusername = ${user}\npassword = ${password}\n`;
}

/** Run once as the default superuser on a new cluster: the `jaeger` role, a superuser that logs in. */
export function cassandraBootstrapCql(password: string): string {
  return `CREATE ROLE IF NOT EXISTS ${AUTH_USER} WITH PASSWORD = ${cqlString(password)} AND LOGIN = true AND SUPERUSER = true;\n`;
}

/**
 * Run as `jaeger` on every schema Job: the default superuser can no longer log in (its
 * password, derived and never used, is replaced too) and holds no rights.
 */
export function cassandraLockdownCql(password: string): string {
  const unused = createHash("sha256").update(`observability-stack/cassandra-default-role/${password}`).digest("hex");
  return `ALTER ROLE ${CASSANDRA_DEFAULT_ROLE} WITH PASSWORD = '${unused}' AND LOGIN = false AND SUPERUSER = false;\n`;
}

/** Content of the Cassandra Secret. */
export function cassandraAuthData(password: string): Record<string, string> {
  return {
    [CASSANDRA_AUTH_KEYS.password]: password,
    [CASSANDRA_AUTH_KEYS.credentials]: cqlshCredentials(AUTH_USER, password),
    [CASSANDRA_AUTH_KEYS.defaultCredentials]: cqlshCredentials(CASSANDRA_DEFAULT_ROLE, CASSANDRA_DEFAULT_ROLE),
    [CASSANDRA_AUTH_KEYS.bootstrap]: cassandraBootstrapCql(password),
    [CASSANDRA_AUTH_KEYS.lockdown]: cassandraLockdownCql(password),
  };
}

/** An env entry from a key of one of the Secrets. */
export function secretEnv(name: string, secret: keyof typeof AUTH_SECRETS, key: string): { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } } {
  return { name, valueFrom: { secretKeyRef: { name: AUTH_SECRETS[secret], key } } };
}

/** The Secret volume of `secret` (group-readable: the pod's fsGroup owns it). */
export function authVolume(secret: keyof typeof AUTH_SECRETS, keys?: readonly string[]): { name: string; secret: { secretName: string; defaultMode: number; items?: { key: string; path: string }[] } } {
  return { name: `${secret}-auth`, secret: { secretName: AUTH_SECRETS[secret], defaultMode: 0o440, ...(keys ? { items: keys.map((k) => ({ key: k, path: k })) } : {}) } };
}

export function authMount(secret: keyof typeof AUTH_SECRETS): { name: string; mountPath: string; readOnly: true } {
  return { name: `${secret}-auth`, mountPath: AUTH_DIRS[secret], readOnly: true };
}
