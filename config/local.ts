// The `local` stack's target: the embedded control plane started by `npm run cluster -- up`.
import { kubeconfigPath } from "../lib/tools.js";

export const LOCAL_CONTEXT = "obs-local";

export function localKubeconfig(): string {
  return kubeconfigPath;
}
