// The SDK's engine client across runs in one process (scripts run preview then up; the e2e tier
// runs hundreds of runs in one worker). Real grpc-js and the SDK's own EngineClient and client
// options: a run's engine that gets the port of an earlier, finished run's engine must be reached.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { ownConnectionsPerRun } from "../../scripts/lib/pulumi.js";

const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js");
const engrpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const engproto = require("@pulumi/pulumi/proto/engine_pb");
const settings = require("@pulumi/pulumi/runtime/settings");

/** An engine that answers SetRootResource, on `port` (0: any free one) of 127.0.0.1. */
async function engine(port: number): Promise<{ port: number; stop(): void }> {
  const server = new grpc.Server();
  server.addService(engrpc.EngineService, { setRootResource: (_c: unknown, cb: (e: null, r: unknown) => void) => cb(null, new engproto.SetRootResourceResponse()) });
  const bound: number = await new Promise((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e: Error | null, p: number) => (e ? reject(e) : resolve(p))));
  return { port: bound, stop: () => server.forceShutdown() };
}

const client = (port: number) => new engrpc.EngineClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), settings.grpcClientOptions);
const setRoot = (c: { setRootResource: Function }): Promise<string> =>
  new Promise((resolve) => c.setRootResource(new engproto.SetRootResourceRequest(), (e: { code: number; details: string } | null) => resolve(e ? `${e.code} ${e.details}` : "ok")));

/** Run 1's engine goes away after a call that then fails (the SDK's last calls of a run); run 2's engine gets the same port. */
async function secondRunOnSamePort(): Promise<string[]> {
  const first = await engine(0);
  const c1 = client(first.port);
  const seen = [await setRoot(c1)];
  first.stop();
  seen.push(await setRoot(c1));
  const second = await engine(first.port);
  try {
    seen.push(await setRoot(client(second.port)));
  } finally {
    second.stop();
  }
  return seen;
}

describe("the SDK's engine connection across runs in one process", () => {
  it("without own subchannels (grpc-js's default), the second run's first call fails as it did in CI: the scenario is real", async () => {
    const saved = settings.grpcClientOptions["grpc.use_local_subchannel_pool"];
    settings.grpcClientOptions["grpc.use_local_subchannel_pool"] = 0;
    try {
      const [first, afterStop, second] = await secondRunOnSamePort();
      expect(first).toBe("ok");
      expect(afterStop).toMatch(/^14 No connection established\. Last error: .*ECONNREFUSED/);
      expect(second).toMatch(/^14 No connection established\. Last error: null/);
    } finally {
      settings.grpcClientOptions["grpc.use_local_subchannel_pool"] = saved;
    }
  });

  it("with ownConnectionsPerRun (what runWithProgram sets), the second run reaches its engine", async () => {
    ownConnectionsPerRun();
    expect(settings.grpcClientOptions["grpc.use_local_subchannel_pool"]).toBe(1);
    const [first, afterStop, second] = await secondRunOnSamePort();
    expect(first).toBe("ok");
    expect(afterStop).toMatch(/^14 /);
    expect(second).toBe("ok");
  });
});
