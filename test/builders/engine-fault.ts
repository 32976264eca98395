// Run by test/e2e/engine-fault.test.ts in its own process (the SDK's unhandled rejections stay
// out of the test worker): a throwaway stack holding one component, then one `up` whose first
// call to the engine (SetRootResource) fails with the status grpc-js gave in CI when a run got a
// stale connection. `late` also keeps the SDK's own unhandled-rejection handler from seeing the
// rejections, as when they arrive after the SDK's run has ended (the timing seen in CI). Prints
// one JSON line: each up's exit code and output, and the stack's resources afterwards.
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pulumiAsync, pulumiEnv, runWithProgram, selectStackAsync } from "../../scripts/lib/pulumi.js";

const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js");
const settings = require("@pulumi/pulumi/runtime/settings");
const late = process.argv[2] === "late";

const unhandled: string[] = [];
process.on("unhandledRejection", (e: { code?: number; details?: string }) => unhandled.push(`${e?.code} ${e?.details}`));

const dir = mkdtempSync(path.join(os.tmpdir(), "obs-engine-fault-"));
try {
  writeFileSync(path.join(dir, "Pulumi.yaml"), "name: engine-fault\nruntime: nodejs\n");
  const env = pulumiEnv({ stack: "fault", backendUrl: `file://${path.join(dir, "state")}`, passphrase: "engine-fault" });
  await selectStackAsync("fault", env, dir);
  let programRuns = 0;
  const program = async () => {
    programRuns++;
    new pulumi.ComponentResource("obs:test:Kept", "kept", {});
    return {};
  };
  const up = () => runWithProgram(program, ["up", "--yes", "--skip-preview", "--stack", "fault"], env, { cwd: dir, capture: true });
  const first = await up();

  let failNext = true;
  settings.grpcClientOptions.interceptors.push((options: { method_definition: { path: string } }, next: (o: unknown) => unknown) =>
    new grpc.InterceptingCall(next(options), {
      start(metadata: unknown, listener: { onReceiveStatus(s: unknown): void }, proceed: (m: unknown, l: unknown) => void) {
        if (!(failNext && options.method_definition.path === "/pulumirpc.Engine/SetRootResource")) return proceed(metadata, listener);
        failNext = false;
        process.nextTick(() => listener.onReceiveStatus({ code: grpc.status.UNAVAILABLE, details: "No connection established. Last error: null. Resolution note: ", metadata: new grpc.Metadata() }));
      },
    }),
  );
  const on = process.on.bind(process);
  if (late) {
    // the SDK's language server adds its handler during the run: leave it out
    process.on = ((event: string, listener: (...a: unknown[]) => void) => (event === "unhandledRejection" ? process : on(event as "exit", listener))) as typeof process.on;
  }
  const faulted = await up();
  process.on = on;
  const exported = await pulumiAsync(["stack", "export", "--stack", "fault"], env, dir);
  const resources = (JSON.parse(exported.stdout).deployment.resources ?? []).map((r: { urn: string }) => r.urn);
  await new Promise((r) => setTimeout(r, 500));
  console.log(JSON.stringify({ first: { code: first.code, stdout: first.stdout }, faulted: { code: faulted.code, stdout: faulted.stdout }, programRuns, resources, unhandled }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
