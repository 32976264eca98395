// Pulumi mocks for the component tests: every registration recorded, unmocked calls refused.
import * as pulumi from "@pulumi/pulumi";

export interface Created {
  readonly type: string;
  readonly name: string;
  readonly inputs: any;
  readonly provider?: string;
}

/** Installs the mocks (call in beforeAll, before importing the component); registrations go into `created`. */
export async function recordResources(created: Created[], stack = "dev"): Promise<Created[]> {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        created.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
        if (!args.type.startsWith("kubernetes:") || !args.inputs.metadata) return { id: `${args.name}-id`, state: args.inputs };
        // auto-named objects get a name the way the provider would give them one
        const metadata = { ...args.inputs.metadata, name: args.inputs.metadata.name ?? `${args.name}-x1y2z3` };
        return { id: `${args.name}-id`, state: { ...args.inputs, metadata } };
      },
      call: (args) => {
        throw new Error(`unexpected call ${args.token}`);
      },
    },
    "observability-stack",
    stack,
    false,
  );
  return created;
}
