// The `local` stack's target: the embedded control plane started by `npm run cluster -- up`.
export { localKubeconfig } from "../lib/tools.js";

export const LOCAL_CONTEXT = "obs-local";
