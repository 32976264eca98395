// The content hash behind the components' config-hash pod annotations: a change in what the
// pod reads (ConfigMaps, rendered files) changes the template, so the workload rolls.
import { createHash, scryptSync } from "node:crypto";

/** sha256 (hex) of the parts, NUL-separated so that ("ab", "c") and ("a", "bc") differ. */
export const contentHash = (...parts: readonly string[]): string => createHash("sha256").update(parts.join("\0")).digest("hex");

/** Salt of secretHash: fixed, so the same content always gives the same annotation. */
const SECRET_HASH_SALT = "observability-stack/secret-hash/v1";

/**
 * The pod-template annotation for Secrets a pod reads: a change of their content rolls the
 * pod, and the annotation never carries the content. scrypt, not sha256: the annotation is
 * readable by whoever reads the workload, and a slow, salted hash keeps a short password out of
 * reach of a dictionary run against it. 16 hex characters are plenty to tell versions apart.
 */
export const secretHash = (...contents: readonly string[]): string => scryptSync(contents.join("\0"), SECRET_HASH_SALT, 8).toString("hex");

/** Pod-template annotation holding secretHash of the Secrets the pod reads. */
export const SECRETS_HASH_ANNOTATION = "observability-stack/secrets-hash";
