// The embedded local control plane; the usage is below (--help).
import { parseArgs } from "node:util";
import { cliArgs, HELP, UsageError } from "./lib/args.js";
import { clusterDir, down, kubeconfigPath, status, up } from "./lib/cluster.js";

const COMMANDS = ["up", "down", "status", "kubeconfig"] as const;

const USAGE = `
usage: npm run cluster -- up|down|status|kubeconfig

The embedded local control plane: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler on 127.0.0.1, plus kwok simulating the nodes. No container runs.

commands:
  up          starts it (already up: nothing to do; a stale state is stopped and started fresh)
  down        stops the processes it started and removes its state
  status      each component's pid and the API server's health; exit 1 unless all run and /readyz is ok
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
    case "down":
      down();
      return 0;
    case "status": {
      const s = status();
      for (const c of s.components) console.log(`${c.name.padEnd(24)} ${c.running ? `running (pid ${c.pid})` : c.pid ? `not running (stale pid ${c.pid})` : "not started"}`);
      if (s.state) console.log(`${"api server".padEnd(24)} https://127.0.0.1:${s.state.ports.apiserver} ${s.healthy ? "healthy (/readyz ok)" : "NOT healthy"}`);
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
