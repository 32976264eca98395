// The one form of an in-cluster host the stack writes anywhere (URLs, certificates' SANs,
// Kafka voters, the mesh's Zipkin target): fully qualified with the cluster's DNS domain
// (`obs:clusterDomain`), so it resolves the same from every namespace and every proxy.

/** `<service>.<namespace>.svc.<clusterDomain>` */
export function serviceHost(service: string, namespace: string, clusterDomain: string): string {
  return `${service}.${namespace}.svc.${clusterDomain}`;
}

/** A StatefulSet pod behind its headless Service: `<set>-<ordinal>.<service>.<namespace>.svc.<clusterDomain>`. */
export function podHost(set: string, ordinal: number, service: string, namespace: string, clusterDomain: string): string {
  return `${set}-${ordinal}.${serviceHost(service, namespace, clusterDomain)}`;
}
