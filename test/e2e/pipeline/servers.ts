// Local servers for the pipeline test: a single-node Kafka (KRaft) and a single-node Cassandra,
// both the real Apache artifacts from Maven Central run on this machine's Java, bound to
// 127.0.0.1 on free ports. Artifacts are cached outside the repo (<cacheRoot>/maven).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { CASSANDRA_AUTH_JVM_OPTS, KAFKA_CLIENT_LISTENER } from "../../../components/jaeger/auth.js";
import { KAFKA_JAAS_PROPERTY, kafkaSaslProperties } from "../../../components/jaeger/kafka.js";
import { cacheRoot } from "../../../lib/tools.js";

export const MAVEN_DIR = path.join(cacheRoot, "maven");
export const KAFKA_VERSION = "4.1.0";
export const CASSANDRA_VERSION = "5.0.5";
const SLF4J_SIMPLE = "org.slf4j:slf4j-simple:1.7.36";

const ARTIFACTS = {
  kafka: [`org.apache.kafka:kafka_2.13:${KAFKA_VERSION}`, `org.apache.kafka:kafka-tools:${KAFKA_VERSION}`, SLF4J_SIMPLE],
  // cassandra-all brings logback and the (shaded) DataStax 3.x driver used to run the CQL.
  cassandra: [`org.apache.cassandra:cassandra-all:${CASSANDRA_VERSION}`],
} as const;

export type ArtifactSet = keyof typeof ARTIFACTS;

/** Free TCP ports on 127.0.0.1, all held until every one is picked so none repeats. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve());
      });
      ports.push((s.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/**
 * Resolves an artifact set with Maven into <MAVEN_DIR>/<name>/lib (once; a stamp records the
 * coordinates) and returns the classpath wildcard for `java -cp`.
 */
export function fetchArtifacts(name: ArtifactSet, timeoutMs = 600_000): string {
  const coords = ARTIFACTS[name];
  const dir = path.join(MAVEN_DIR, name);
  const lib = path.join(dir, "lib");
  const stamp = path.join(dir, "complete.json");
  const want = JSON.stringify(coords);
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === want) return path.join(lib, "*");
  mkdirSync(dir, { recursive: true });
  rmSync(lib, { recursive: true, force: true });
  const deps = coords
    .map((c) => {
      const [g, a, v] = c.split(":");
      return `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
    })
    .join("\n    ");
  writeFileSync(
    path.join(dir, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.pipeline-test</groupId><artifactId>${name}</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    ${deps}
  </dependencies>
</project>
`,
  );
  execFileSync("mvn", ["-B", "-q", `-Dmaven.repo.local=${path.join(MAVEN_DIR, "repo")}`, "dependency:copy-dependencies", `-DoutputDirectory=${lib}`], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    timeout: timeoutMs,
  });
  writeFileSync(stamp, want);
  return path.join(lib, "*");
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
}

/** Every process start() launched, so a failed wait still leaves it to stopAll(). */
export const started: Proc[] = [];

/** Starts a process with its output in <dir>/<name>.log; never through a shell, so pid is the process. */
export function start(name: string, cmd: string, args: string[], dir: string, env?: Record<string, string>): Proc {
  const log = path.join(dir, `${name}.log`);
  const fd = openSync(log, "a");
  const child = spawn(cmd, args, { cwd: dir, stdio: ["ignore", fd, fd], ...(env ? { env: { ...process.env, ...env } } : {}) });
  closeSync(fd);
  const p = { name, child, log };
  started.push(p);
  return p;
}

export function tail(p: Proc, lines = 40): string {
  try {
    return readFileSync(p.log, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** SIGTERM by pid, then SIGKILL after `graceMs` if it is still there. */
export async function stop(p: Proc, graceMs = 15_000): Promise<void> {
  const c = p.child;
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
  const exited = new Promise<void>((r) => c.once("exit", () => r()));
  process.kill(c.pid, "SIGTERM");
  const timer = new Promise<boolean>((r) => setTimeout(() => r(false), graceMs));
  const done = await Promise.race([exited.then(() => true), timer]);
  if (!done && c.exitCode === null && c.signalCode === null) {
    process.kill(c.pid, "SIGKILL");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  }
}

/** Stops every started process, last started first, each by its pid. */
export async function stopAll(): Promise<void> {
  for (const p of [...started].reverse()) await stop(p).catch(() => {});
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true, failing after `timeoutMs` (or at once if `p` exited). */
export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, p?: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p && (p.child.exitCode !== null || p.child.signalCode !== null)) {
      throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) while waiting for ${what}:\n${tail(p)}`);
    }
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${p ? `:\n${tail(p)}` : ""}`);
    await sleep(500);
  }
}

export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.setTimeout(1_000);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("timeout", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(false));
  });
}

// ---------------------------------------------------------------- Kafka

export interface KafkaServer {
  readonly proc: Proc;
  readonly bootstrap: string;
  readonly classpath: string;
  /** The CLI tools' client config (`--command-config`) for the SASL listener. */
  readonly clientConfig: string;
}

/**
 * Formats the KRaft storage and starts a combined broker+controller node whose client listener
 * is the project's: SASL/PLAIN with the listener JAAS `jaas` (kafkaBrokerJaas); `clientProperties`
 * is what the CLI tools log in with (kafkaClientProperties).
 */
export async function startKafka(dir: string, classpath: string, auth: { jaas: string; clientProperties: string }, timeoutMs = 120_000): Promise<KafkaServer> {
  const [port, controllerPort] = await freePorts(2) as [number, number];
  mkdirSync(dir, { recursive: true });
  const props = path.join(dir, "server.properties");
  writeFileSync(
    props,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=${KAFKA_CLIENT_LISTENER}://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=${KAFKA_CLIENT_LISTENER}://127.0.0.1:${port}`,
      "controller.listener.names=CONTROLLER",
      // as the brokers in the cluster: SASL/PLAIN on the client and inter-broker listener
      ...Object.entries(kafkaSaslProperties()).map(([k, v]) => `${k}=${v}`),
      `${KAFKA_JAAS_PROPERTY}=${auth.jaas}`,
      `log.dirs=${path.join(dir, "data")}`,
      "num.partitions=1",
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=1",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "group.initial.rebalance.delay.ms=0",
      // as in the cluster: only the topic Job creates topics
      "auto.create.topics.enable=false",
      "",
    ].join("\n"),
  );
  const clusterId = execFileSync("java", ["-cp", classpath, "kafka.tools.StorageTool", "random-uuid"], { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "ignore"] }).trim().split("\n").pop()!.trim();
  execFileSync("java", ["-cp", classpath, "kafka.tools.StorageTool", "format", "-t", clusterId, "-c", props], { timeout: 60_000, stdio: ["ignore", "pipe", "pipe"] });
  const proc = start("kafka", "java", ["-Xms256m", "-Xmx512m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", classpath, "kafka.Kafka", props], dir);
  await waitFor(`Kafka on 127.0.0.1:${port}`, timeoutMs, () => portOpen(port), proc);
  const clientConfig = path.join(dir, "client.properties");
  writeFileSync(clientConfig, auth.clientProperties, { mode: 0o600 });
  return { proc, bootstrap: `127.0.0.1:${port}`, classpath, clientConfig };
}

/** Kafka's own TopicCommand (what the Jobs' kafka-topics.sh runs), logged in with `clientConfig`. */
export function topicCommand(k: KafkaServer, args: string[], clientConfig = k.clientConfig, timeoutMs = 120_000): string {
  return execFileSync("java", ["-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", k.classpath, "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", k.bootstrap, "--command-config", clientConfig, ...args], {
    timeout: timeoutMs,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Creates a topic as the topic Job does. */
export function createTopic(k: KafkaServer, topic: string, partitions: number, replicationFactor: number): void {
  topicCommand(k, ["--create", "--if-not-exists", "--topic", topic, "--partitions", String(partitions), "--replication-factor", String(replicationFactor)]);
}

// ---------------------------------------------------------------- Cassandra

// What Cassandra 5.0's conf/jvm17-server.options passes on Java 17.
const JAVA17_FLAGS = [
  ...["java.base/jdk.internal.misc", "java.base/jdk.internal.ref", "java.base/sun.nio.ch", "java.management.rmi/com.sun.jmx.remote.internal.rmi", "java.rmi/sun.rmi.registry", "java.rmi/sun.rmi.server", "java.sql/java.sql", "java.base/java.lang.ref", "jdk.unsupported/sun.misc"].flatMap((m) => ["--add-exports", `${m}=ALL-UNNAMED`]),
  ...[
    "java.base/java.lang.module", "java.base/jdk.internal.loader", "java.base/jdk.internal.ref", "java.base/jdk.internal.reflect", "java.base/jdk.internal.math", "java.base/jdk.internal.module",
    "java.base/jdk.internal.util.jar", "jdk.management/com.sun.management.internal", "java.base/sun.nio.ch", "java.base/java.io", "java.base/java.nio", "java.base/java.util.concurrent",
    "java.base/java.util", "java.base/java.util.concurrent.atomic", "java.base/java.lang", "java.base/java.math", "java.base/java.lang.reflect", "java.base/java.net",
  ].flatMap((m) => ["--add-opens", `${m}=ALL-UNNAMED`]),
];

const LOGBACK = `<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
`;

export interface CassandraServer {
  readonly proc: Proc;
  readonly host: string;
  readonly port: number;
  readonly classpath: string;
  readonly dir: string;
}

export interface CassandraOptions {
  readonly clusterName: string;
  readonly datacenter: string;
  readonly rack: string;
}

/** One Cassandra node with GossipingPropertyFileSnitch (as in the cluster), data in `dir`. */
export async function startCassandra(dir: string, classpath: string, o: CassandraOptions, timeoutMs = 240_000): Promise<CassandraServer> {
  const [native, storage, jmx] = await freePorts(3) as [number, number, number];
  mkdirSync(dir, { recursive: true });
  const d = (n: string) => path.join(dir, n);
  writeFileSync(d("logback.xml"), LOGBACK);
  writeFileSync(d("cassandra-rackdc.properties"), `dc=${o.datacenter}\nrack=${o.rack}\n`);
  writeFileSync(
    d("cassandra.yaml"),
    `cluster_name: ${JSON.stringify(o.clusterName)}
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
data_file_directories: [${JSON.stringify(d("data"))}]
commitlog_directory: ${JSON.stringify(d("commitlog"))}
saved_caches_directory: ${JSON.stringify(d("saved_caches"))}
hints_directory: ${JSON.stringify(d("hints"))}
cdc_raw_directory: ${JSON.stringify(d("cdc_raw"))}
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:${storage}"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: ${storage}
native_transport_port: ${native}
start_native_transport: true
endpoint_snitch: GossipingPropertyFileSnitch
`,
  );
  const jamm = path.join(path.dirname(classpath), "jamm-0.4.0.jar");
  const args = [
    "-Xms512m", "-Xmx512m", "-XX:+UseG1GC", ...JAVA17_FLAGS,
    ...(existsSync(jamm) ? [`-javaagent:${jamm}`] : []),
    `-Dcassandra.config=file://${d("cassandra.yaml")}`,
    `-Dcassandra-rackdc.properties=file://${d("cassandra-rackdc.properties")}`,
    `-Dlogback.configurationFile=${d("logback.xml")}`,
    "-Dcassandra-foreground=true",
    `-Dcassandra.storagedir=${dir}`,
    `-Dcassandra.jmx.local.port=${jmx}`,
    // what the pods' JVM_EXTRA_OPTS turn on over the yaml above (AllowAllAuthenticator, as in the image)
    ...CASSANDRA_AUTH_JVM_OPTS,
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.ring_delay_ms=1000",
    "-Dcassandra.superuser_setup_delay_ms=0",
    "-cp", classpath, "org.apache.cassandra.service.CassandraDaemon",
  ];
  const proc = start("cassandra", "java", args, dir);
  await waitFor(`Cassandra CQL on 127.0.0.1:${native}`, timeoutMs, async () => (await portOpen(native)) && readFileSync(proc.log, "utf8").includes("Startup complete"), proc);
  return { proc, host: "127.0.0.1", port: native, classpath, dir };
}

// A CQL runner on the DataStax 3.x driver that cassandra-all ships (shaded), run as a
// single-file Java program: executes every `;`-terminated statement of a file, in order.
const RUN_CQL_JAVA = `import com.datastax.driver.core.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;

public class RunCql {
  public static void main(String[] a) throws Exception {
    String cql = new String(Files.readAllBytes(Paths.get(a[2])), StandardCharsets.UTF_8);
    Cluster.Builder b = Cluster.builder().addContactPoint(a[0]).withPort(Integer.parseInt(a[1])).withoutJMXReporting();
    String user = System.getenv("CQL_USER");
    if (user != null) b = b.withCredentials(user, System.getenv("CQL_PASSWORD"));
    try (Cluster c = b.build();
         Session s = c.connect()) {
      for (String st : cql.split(";\\\\s*(\\\\n|$)")) {
        if (st.trim().isEmpty()) continue;
        s.execute(new SimpleStatement(st).setReadTimeoutMillis(120000));
      }
    }
  }
}
`;

/**
 * Runs a CQL file's statements against the node (the schema Job's `cqlsh -f`, without cqlsh),
 * logged in as `login` (through the environment, never the command line) or anonymously.
 */
export function runCql(c: CassandraServer, cql: string, login?: { user: string; password: string }): void {
  const src = path.join(c.dir, "RunCql.java");
  const file = path.join(c.dir, `cql-${randomUUID()}.cql`);
  writeFileSync(src, RUN_CQL_JAVA);
  writeFileSync(file, cql);
  execFileSync("java", ["-cp", c.classpath, `-Dlogback.configurationFile=${path.join(c.dir, "logback.xml")}`, src, c.host, String(c.port), file], {
    timeout: 180_000,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...(login ? { CQL_USER: login.user, CQL_PASSWORD: login.password } : {}) },
  });
}
