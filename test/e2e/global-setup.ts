// The e2e tier runs against its own embedded cluster (a separate state dir, so a developer's
// `npm run cluster -- up` is left alone): started before the first file and stopped after the
// last, unless it was already running (another run owns it then). Its istiods (one per istiod
// Deployment the files apply, see scripts/lib/istiod.ts) stop with it: the teardown fails if one
// survives `down`.
import path from "node:path";
import { cacheRoot } from "../../lib/tools.js";

export default async function setup(): Promise<() => void> {
  process.env.OBS_CLUSTER_DIR ??= path.join(cacheRoot, "cluster-e2e");
  const cluster = await import("../../scripts/lib/cluster.js");
  const { isIstiodPid } = await import("../../scripts/lib/istiod.js");
  const before = cluster.status();
  if (before.up && before.healthy) {
    console.log("[e2e] reusing the running e2e cluster; it is left running");
    return () => {};
  }
  const t0 = Date.now();
  await cluster.up();
  console.log(`[e2e] cluster up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return () => {
    const istiods = cluster.status().istiods.filter((i) => i.running);
    cluster.down({ remove: true });
    const left = istiods.filter((i) => isIstiodPid(i.pid!));
    if (left.length) throw new Error(`cluster down left istiod(s) running: ${left.map((i) => `${i.revision} (pid ${i.pid})`).join(", ")}`);
  };
}
