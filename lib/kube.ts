// Where a stack's Kubernetes API is: a kubeconfig file and a context (config/target.ts makes one
// from the stack config; the provider and components/istio/observe.ts use the same one).
export interface Target {
  readonly kubeconfig?: string;
  readonly context?: string;
}
