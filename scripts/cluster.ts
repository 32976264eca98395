// The embedded local control plane; the usage is below (--help).
import { parseArgs } from "node:util";
import { cliArgs, HELP, UsageError } from "./lib/args.js";
import { clusterDir, down, kubeconfigPath, reset, status, up } from "./lib/cluster.js";

const COMMANDS = ["up", "down", "delete", "reset", "status", "kubeconfig"] as const;

const USAGE = `
usage: npm run cluster -- up|down|delete|reset|status|kubeconfig

The embedded local control plane: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler on 127.0.0.1, plus kwok simulating the nodes. No container runs, except
istiod: one real pilot-discovery process per istiod Deployment in istio-system, run by
the istiod supervisor (which also carries the API server's webhook calls to them).

commands:
  up          starts it; already up: nothing to do; components that died (a killed run, a
              crash) start again on the kept data, CA and ports; a state folder from an
              incompatible version is removed and a fresh cluster started (said in one line)
  down        stops the processes it started (istiods included); its data stays for the next up
  delete      stops them and removes its state folder (all its data)
  reset       removes its state folder (all its data) and starts a fresh, empty cluster
  status      each component's pid, the API server's health and each istiod's state and ports;
              exit 1 unless all components run and /readyz is ok
  kubeconfig  prints the path of its admin kubeconfig

options:
  -h, --help  this text

state: ${clusterDir} (OBS_CLUSTER_DIR, or OBS_CACHE_DIR for the whole cache, moves it)

examples:
  npm run cluster -- up
  export KUBECONFIG=$(npm run -s cluster -- kubeconfig)
`;

const { positionals } = cliArgs(
  "npm run cluster",
  USAGE,
  (args) => parseArgs({ args, strict: true, allowPositionals: true, options: { ...HELP } }),
  ({ positionals: [command, ...extra] }) => {
    if (!COMMANDS.includes(command as (typeof COMMANDS)[number])) throw new UsageError(command === undefined ? `name a command: ${COMMANDS.join("|")}` : `unknown command '${command}' (commands: ${COMMANDS.join(", ")})`);
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  },
);

async function main(cmd: (typeof COMMANDS)[number]): Promise<number> {
  switch (cmd) {
    case "up":
      await up();
      return 0;
    case "reset":
      await reset();
      return 0;
    case "down":
      down();
      return 0;
    case "delete":
      down({ remove: true });
      return 0;
    case "status": {
      const s = status();
      for (const c of s.components) console.log(`${c.name.padEnd(24)} ${c.running ? `running (pid ${c.pid})` : c.pid ? `not running (stale pid ${c.pid})` : "not started"}`);
      if (s.state) console.log(`${"api server".padEnd(24)} https://127.0.0.1:${s.state.ports.apiserver} ${s.healthy ? "healthy (/readyz ok)" : "NOT healthy"}`);
      for (const i of s.istiods) {
        const where = i.ports ? `; webhooks 127.0.0.1:${i.ports.https}, xds 127.0.0.1:${i.ports.secureGrpc}, monitoring 127.0.0.1:${i.ports.monitoring}` : "";
        const how = i.running ? `${i.state} (pid ${i.pid}${i.readySeconds !== undefined ? `, ready in ${i.readySeconds}s` : ""}${i.restarts ? `, ${i.restarts} restart(s)` : ""})` : `${i.state}${i.detail ? `: ${i.detail}` : ""}`;
        console.log(`${`istiod ${i.revision}`.padEnd(24)} ${i.version ? `${i.version} ` : ""}${how}${where}`);
      }
      console.log(`${"state".padEnd(24)} ${clusterDir}`);
      return s.up && s.healthy ? 0 : 1;
    }
    case "kubeconfig":
      console.log(kubeconfigPath);
      return 0;
  }
}

const cmd = positionals[0] as (typeof COMMANDS)[number];
main(cmd).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`npm run cluster -- ${cmd}: ${e.message}`);
    process.exit(1);
  },
);
