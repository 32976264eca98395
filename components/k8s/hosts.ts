// The one form of an in-cluster host the stack writes anywhere (URLs, certificates' SANs,
// Kafka voters, the mesh's Zipkin target): fully qualified with the cluster's DNS domain
// (`obs:clusterDomain`), so it resolves the same from every namespace and every proxy.
import * as pulumi from "@pulumi/pulumi";

/** `<service>.<namespace>.svc.<clusterDomain>` */
export function serviceHost(service: string, namespace: string, clusterDomain: string): string {
  return `${service}.${namespace}.svc.${clusterDomain}`;
}

/** A StatefulSet pod behind its headless Service: `<set>-<ordinal>.<service>.<namespace>.svc.<clusterDomain>`. */
export function podHost(set: string, ordinal: number, service: string, namespace: string, clusterDomain: string): string {
  return `${set}-${ordinal}.${serviceHost(service, namespace, clusterDomain)}`;
}

/** serviceHost of a Service whose name and namespace are known only once it is registered. */
export function serviceHostOf(service: pulumi.Input<string>, namespace: pulumi.Input<string>, clusterDomain: string): pulumi.Output<string> {
  return pulumi.all([service, namespace]).apply(([s, ns]) => serviceHost(s, ns, clusterDomain));
}
