// usage: npm run cluster -- up|down|status|kubeconfig
import { clusterDir, down, kubeconfigPath, status, up } from "./lib/cluster.js";

const usage = "usage: npm run cluster -- up|down|status|kubeconfig";

async function main(cmd: string | undefined): Promise<number> {
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
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`npm run cluster -- ${process.argv[2]}: ${e.message}`);
    process.exit(1);
  },
);
