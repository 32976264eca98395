// The PR summary, from `pulumi preview --json` and `pulumi refresh --preview-only --json` output
// recorded from the pinned CLI and provider on the local cluster (shapes from the real thing):
//   preview-tag-move.json        the project's local stack: the `stable` tag moved from revision
//                                1-30 to 1-31 (a canary step), the obs:logging passwords secret
//   preview-update.json,         test/e2e/preview-fixtures.test.ts's small program (a ConfigMap, a
//   preview-replace.json,        Secret and a Deployment under obs:fixture:App): image tag and
//   preview-secret.json,         replicas changed; the ConfigMap renamed; the Secret's password
//   preview-failed.json,         and a pulumi.secret() env value changed; replicas -1 refused by
//   preview-failed-program.json  the API server's dry run; the program throwing;
//   refresh-drift.json,          the Deployment scaled by hand, and a clean refresh
//   refresh-clean.json           (OBS_RECORD_FIXTURES=1 re-records them)
import * as pulumi from "@pulumi/pulumi";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { changingSteps, errorLines, lineDiff, parsePath, parsePlan, parseUrn, planFailed, summarize, summarizeOutput, type PreviewJson } from "../../scripts/lib/summary.js";
import { commentBody } from "../../scripts/pr-comment.js";

const text = (name: string) => readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8");
const fixture = (name: string): PreviewJson & { config?: Record<string, string> } => JSON.parse(text(name));
/** The CLI's exit code of each recording. */
const exitCode = (name: string): number => JSON.parse(text("exit-codes"))[name];

describe("a canary step (preview-tag-move)", () => {
  const recorded = fixture("preview-tag-move");
  const md = summarize("local", recorded, { demo: "1-31" });

  it("puts the canary steps first, then the counts per component and operation", () => {
    expect(md.indexOf("**Canary steps**")).toBeLessThan(md.indexOf("| component |"));
    expect(md).toContain("- moves revision tag `stable`");
    expect(md).toContain("- namespace `demo`: revision 1-30 → 1-31; **its workloads restart** (rolling) after `up`");
    expect(md).toContain("| component | create | update | replace | delete |");
    expect(md).toContain("| istio | 0 | 1 | 0 | 0 |");
    expect(md).not.toContain("| stack |");
  });

  it("shows what changes on the tag's webhook as before → after, collapsed", () => {
    expect(md).toContain("<details><summary>Changes per resource (1)</summary>");
    expect(md).toContain("- **update** `MutatingWebhookConfiguration istio-revision-tag-stable` · istio");
    expect(md).toContain('  - `metadata.labels["istio.io/rev"]`: `1-30` → `1-31`');
    expect(md).toContain("  - `webhooks[0].clientConfig.service.name`: `istiod-1-30` → `istiod-1-31`");
    expect(md.trimEnd().endsWith("</details>")).toBe(true);
  });

  it("shows no secret: the stack's secret config is not in it", () => {
    expect(recorded.config!["obs:logging"]).toContain('"elasticPassword":"[secret]"');
    expect(md).not.toMatch(/password|secret/i);
  });

  it("says so when nothing changes", () => {
    expect(summarize("dev", { steps: recorded.steps!.filter((s) => s.op === "same") })).toBe("### `pulumi preview` of stack `dev`\n\nNo changes.\n");
  });
});

describe("an update (preview-update)", () => {
  const md = summarize("prod", fixture("preview-update"));

  it("shows the image tag and the replica count as before → after", () => {
    expect(md).toContain("| fixture | 0 | 2 | 0 | 0 |");
    expect(md).toContain("- **update** `Deployment obs-fixtures/app` · fixture\n  - `spec.replicas`: `3` → `4`\n  - `spec.template.spec.containers[0].image`: `nginx:1.27.0` → `nginx:1.27.1`\n");
  });

  it("shows a container that carries a secret as [secret]: Pulumi masks its whole containers list", () => {
    expect(md).toContain("- **update** `Deployment obs-fixtures/app-worker` · fixture\n  - `spec.template.spec.containers[0].image`: [secret] changed\n");
  });
});

describe("a replacement (preview-replace)", () => {
  const md = summarize("prod", fixture("preview-replace"));

  it("names what is replaced, and why: the provider replaces a ConfigMap whose data changes", () => {
    expect(md).toContain("| fixture | 0 | 0 | 2 | 0 |");
    expect(md).toContain("**Replaced** (deleted and created again):\n- ConfigMap obs-fixtures/app-settings\n- Deployment obs-fixtures/app\n");
    expect(md).toContain('- **replace** `ConfigMap obs-fixtures/app-settings` · fixture (replaced because `data.retentionDays`, `data["app.yaml"]` changed)');
    expect(md).toContain("  - `data.retentionDays`: `7` → `14` (forces replacement)");
  });

  it("shows a changed config file as a line diff", () => {
    expect(md).toContain('  - `data["app.yaml"]`: text, +2 −2 lines (forces replacement)\n    ```diff\n       workers: 4\n     sampling:\n    -  percent: 1\n    +  percent: 5\n     log:\n    -  level: info\n    +  level: debug\n    ```\n');
  });

  it("says why the Deployment that mounts it is replaced too", () => {
    expect(md).toContain("- **replace** `Deployment obs-fixtures/app` · fixture\n  - no property of its own changes: it is replaced along with a resource it depends on\n");
  });
});

describe("a secret change (preview-secret)", () => {
  const raw = text("preview-secret");
  const md = summarize("prod", JSON.parse(raw));

  it("says which secret values change and never shows one", () => {
    expect(md).toContain("- **replace** `Secret obs-fixtures/app-credentials` · fixture (replaced because `data.password` changed)\n  - `data.password`: [secret] changed (forces replacement)\n");
    expect(md).toContain("- **update** `Deployment obs-fixtures/app-worker` · fixture\n  - `spec.template.spec.containers[0].env[0].value`: [secret] changed\n");
    for (const v of ["first-password-value", "second-password-value", "first-token-value", "second-token-value"]) {
      expect(raw).not.toContain(v);
      expect(md).not.toContain(v);
    }
  });

  it("masks what is under a secret in a state file too (the signature key)", () => {
    const step = JSON.parse(raw).steps.find((s: { op: string }) => s.op === "update");
    // the SDK's own signature, so the summary's copy of the key cannot drift from it unnoticed
    step.oldState.inputs.spec.template.spec.containers = { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, ciphertext: "v1:abc" };
    const out = summarize("prod", { steps: [step] });
    expect(out).toContain("`spec.template.spec.containers[0].env[0].value`: [secret] changed");
    expect(out).not.toContain("v1:abc");
  });
});

describe("a failed preview", () => {
  it("the API server's refusal: the error in one block, no plan, no stack trace", () => {
    const raw = text("preview-failed");
    const md = summarizeOutput("prod", raw, exitCode("preview-failed"));
    expect(md).toContain("**pulumi preview failed** (exit code 1). Nothing was changed.");
    expect(md).toContain('```text\nDeployment app: Preview failed: 1 error occurred:\n\t* the Kubernetes API server reported that "obs-fixtures/app" failed to fully initialize or become live: Deployment.apps "app" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0\n```\n');
    expect(md.match(/```text/g)).toHaveLength(1);
    expect(md).not.toContain("| component |");
    expect(md).toContain("<details><summary>Changes planned before the failure (1, incomplete)</summary>");
  });

  it("the program's exception: its message, not its stack trace", () => {
    const raw = text("preview-failed-program");
    expect(raw).toMatch(/\\n {4}at /); // the recorded diagnostic carries the trace
    const md = summarizeOutput("prod", raw, exitCode("preview-failed-program"));
    expect(md).toBe("### `pulumi preview` of stack `prod`\n\n**pulumi preview failed** (exit code 1). Nothing was changed.\n\n```text\nUnhandled exception: Error: obs:fixture.replicas must be at least 1, not 0\n```\n");
  });

  it("output that is no JSON: the error lines of it", () => {
    const md = summarizeOutput("prod", "error: could not reach the backend: dial tcp 127.0.0.1:9: connect: connection refused\n", 1);
    expect(md).toBe("### `pulumi preview` of stack `prod`\n\n**pulumi preview failed** (exit code 1) before it produced a plan. Nothing was changed.\n\n```text\nerror: could not reach the backend: dial tcp 127.0.0.1:9: connect: connection refused\n```\n");
  });
});

describe("drift (refresh --preview-only)", () => {
  const operation = "pulumi refresh --preview-only";

  it("shows what the cluster changed by hand as before → after", () => {
    const md = summarize("prod", fixture("refresh-drift"), {}, { operation });
    expect(md).toContain("### `pulumi refresh --preview-only` of stack `prod`");
    expect(md).toContain("- **update** `Deployment obs-fixtures/app` · fixture");
    expect(md).toContain("  - `spec.replicas`: `3` → `5`");
  });

  it("a clean refresh: no changes", () => {
    expect(summarize("prod", fixture("refresh-clean"), {}, { operation })).toContain("No changes.");
  });

  it("judges failed and changed as the drift issue does (pr-comment issue)", () => {
    expect(changingSteps(fixture("refresh-clean"))).toEqual([]);
    expect(changingSteps(fixture("refresh-drift")).map((s) => [s.op, parseUrn(s.urn).name])).toEqual([["update", "app"]]);
    expect(planFailed(fixture("refresh-drift"), exitCode("refresh-drift"))).toBe(false);
    expect(planFailed(fixture("preview-failed"))).toBe(true); // its error diagnostic, whatever the exit code
    expect(parsePlan("error: could not reach the backend\n")).toBeUndefined();
  });
});

describe("building blocks", () => {
  it("reads Pulumi's property paths", () => {
    expect(parsePath('metadata.labels["istio.io/rev"]')).toEqual(["metadata", "labels", "istio.io/rev"]);
    expect(parsePath("webhooks[1].clientConfig.service.name")).toEqual(["webhooks", 1, "clientConfig", "service", "name"]);
  });

  it("finds the owning component in a URN", () => {
    expect(parseUrn("urn:pulumi:s::p::obs:istio:ControlPlane$obs:istio:Revision$kubernetes:core/v1:ConfigMap::x")).toEqual({ component: "istio", type: "kubernetes:core/v1:ConfigMap", name: "x" });
  });

  it("diffs lines with context and a gap marker", () => {
    const before = ["a", "b", "c", "d", "e", "f", "g", "h"].join("\n");
    expect(lineDiff(before, before.replace("b", "B").replace("h", "H"))).toEqual({ added: 2, removed: 2, lines: [" a", "-b", "+B", " c", " d", "@@", " f", " g", "-h", "+H"] });
  });

  it("keeps Pulumi's error lines and drops stack frames (the recorded program exception)", () => {
    const [, exception] = fixture("preview-failed-program").diagnostics!;
    expect(exception!.message).toContain("\n    at Object.init (");
    expect(errorLines(exception!.message)).toEqual(["error: Unhandled exception: Error: obs:fixture.replicas must be at least 1, not 0"]);
    // as a terminal shows it: colours (and other escape sequences) out
    expect(errorLines(`\u001b[31m\u001b[1m${exception!.message}\u001b[0m\u001b[K`)).toEqual(["error: Unhandled exception: Error: obs:fixture.replicas must be at least 1, not 0"]);
  });

  it("stays under the size of a GitHub comment", () => {
    const big = fixture("preview-update");
    const steps = Array.from({ length: 400 }, (_, i) => big.steps!.map((s) => ({ ...s, urn: `${s.urn}-${i}` }))).flat();
    const md = summarize("prod", { ...big, steps }, {}, { maxChars: 20_000 });
    expect(md.length).toBeLessThan(20_000);
    expect(md).toMatch(/- … and \d+ more \(too long for one comment: the job log has the full preview\)/);
    expect(md.trimEnd().endsWith("</details>")).toBe(true);
  });
});

/** What the workflow posts for each recorded preview (the footer fixed, so the file is stable). */
function examples(): { title: string; stack: string; body: string }[] {
  const footer = "<sub>commit 0123456789ab · [workflow run](https://github.com/acme/observability-stack/actions/runs/1) · updated 2026-12-01 23:00 UTC</sub>";
  const made = (title: string, stack: string, summary: string) => ({ title, stack, body: commentBody(stack, summary, footer) });
  return [
    made("A canary step: the `stable` tag moves from revision 1-30 to 1-31", "local", summarize("local", fixture("preview-tag-move"), { demo: "1-31" })),
    made("A failed preview: the API server refuses an object", "prod", summarizeOutput("prod", text("preview-failed"), exitCode("preview-failed"))),
    made("A failed preview: the program throws", "prod", summarizeOutput("prod", text("preview-failed-program"), exitCode("preview-failed-program"))),
    made("An update: image tag, replicas, a config value and a config file", "prod", summarize("prod", fixture("preview-update"))),
    made("A secret change", "prod", summarize("prod", fixture("preview-secret"))),
    made("A replacement", "prod", summarize("prod", fixture("preview-replace"))),
  ];
}

function examplesDoc(): string {
  const head = [
    "# Example PR comments",
    "",
    "What `.github/workflows/preview.yml` posts on a pull request, one comment per stack (README,",
    '"Pull requests"). Made by the summary builder (`scripts/lib/summary.ts`) and',
    "`scripts/pr-comment.ts` from `pulumi preview --json` output recorded from the pinned CLI and",
    "provider on the local cluster (`test/unit/fixtures/`). The first line of each comment is the",
    "hidden marker the workflow finds it by. `test/unit/summary.test.ts` fails when this file is out",
    "of date; `OBS_UPDATE_DOCS=1 npx vitest run --project unit test/unit/summary.test.ts` rewrites it.",
  ];
  return [...head, ...examples().flatMap((e) => ["", "---", "", `## ${e.title}`, "", e.body.trimEnd()])].join("\n") + "\n";
}

/** An example as the README quotes it. */
const quoted = (body: string) =>
  body
    .trimEnd()
    .split("\n")
    .map((l) => (l ? `> ${l}` : ">"))
    .join("\n");

describe("docs/pr-comment-examples.md and the README's examples", () => {
  it("are what the builder makes of the recorded previews (OBS_UPDATE_DOCS=1 rewrites the doc)", () => {
    const file = new URL("../../docs/pr-comment-examples.md", import.meta.url);
    if (process.env.OBS_UPDATE_DOCS === "1") writeFileSync(file, examplesDoc());
    expect(readFileSync(file, "utf8")).toBe(examplesDoc());
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const [canary, failed] = examples();
    expect(readme).toContain(quoted(canary!.body));
    expect(readme).toContain(quoted(failed!.body));
  });
});
