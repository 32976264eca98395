// The content hash behind the components' config-hash pod annotations: a change in what the
// pod reads (ConfigMaps, rendered files) changes the template, so the workload rolls.
import { createHash } from "node:crypto";

/** sha256 (hex) of the parts, NUL-separated so that ("ab", "c") and ("a", "bc") differ. */
export const contentHash = (...parts: readonly string[]): string => createHash("sha256").update(parts.join("\0")).digest("hex");
