// The scripts' synchronous command runs (zx): quiet, a failure is a result not an exception, and
// room for large output. zx's own synchronous mode keeps Node's default 1 MB buffer and cuts the
// rest (exit code null): `kubectl get crd -o json` alone is larger.
import { spawnSync } from "node:child_process";
import { $ } from "zx/core";

const MAX_BUFFER = 256 * 1024 * 1024;
const bigBuffer = ((cmd: string, args: readonly string[], opts: object) => spawnSync(cmd, args, { ...opts, maxBuffer: MAX_BUFFER })) as typeof spawnSync;

export const runSync = (opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) => $({ sync: true, quiet: true, nothrow: true, spawnSync: bigBuffer, ...opts });
