// The local API server's egress proxy: it splices only to 127.0.0.1 and refuses every other target.
import { mkdtempSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTarget, startEgressProxy, type Route } from "../../scripts/lib/egress-proxy.js";

let upstream: Server;
let upstreamPort: number;
const seen: { remote?: string; data: string }[] = [];
let proxy: Server;
const socketPath = path.join(mkdtempSync(path.join(os.tmpdir(), "obs-egress-")), "egress.sock");
const routed: string[] = [];
const lines: string[] = [];

// an echo server on 127.0.0.1 standing in for an istiod listener
beforeAll(async () => {
  upstream = createServer((s) => {
    const entry = { remote: s.remoteAddress, data: "" };
    seen.push(entry);
    s.on("data", (d) => {
      entry.data += d;
      s.write(`echo:${d}`);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamPort = (upstream.address() as { port: number }).port;
  const table: Record<string, Route> = {
    "10.0.81.199:443": { port: upstreamPort },
    "10.0.81.199:15012": { refused: "istiod 1-30 is not running" },
  };
  proxy = await startEgressProxy({
    socketPath,
    route: (host, port) => {
      routed.push(`${host}:${port}`);
      return table[`${host}:${port}`] ?? { refused: "not an istiod Service" };
    },
    log: (l) => lines.push(l),
  });
});
afterAll(() => {
  proxy.close();
  upstream.close();
});

/** Sends a request head over the Unix socket; resolves with everything received until close or `until` matches. */
function exchange(head: string, after?: string, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(socketPath);
    let got = "";
    s.on("data", (d) => {
      got += d;
      if (after && got.startsWith("HTTP/1.1 200") && !got.includes("echo:")) s.write(after);
      if (until?.test(got)) {
        s.destroy();
        resolve(got);
      }
    });
    s.on("close", () => resolve(got));
    s.on("error", reject);
    s.write(head);
  });
}

describe("egress proxy", () => {
  it("splices a mapped CONNECT to its 127.0.0.1 port, carrying bytes both ways", async () => {
    const got = await exchange("CONNECT 10.0.81.199:443 HTTP/1.1\r\nHost: 10.0.81.199:443\r\n\r\n", "hello", /echo:hello/);
    expect(got).toMatch(/^HTTP\/1\.1 200 /);
    expect(got).toContain("echo:hello");
    expect(seen.at(-1)).toEqual({ remote: "127.0.0.1", data: "hello" });
  });

  it("answers 502 for any other target, and dials nothing", async () => {
    const before = seen.length;
    for (const target of ["10.0.81.200:443", "192.0.2.1:443", "8.8.8.8:53", "10.1.0.1:10250", "[fd00::1]:443", "kwok-node-0:10250"]) {
      const got = await exchange(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      expect(got, target).toMatch(new RegExp(`^HTTP/1\\.1 502 the local cluster's egress proxy does not reach ${target.replace(/[[\]]/g, "").replace(/\./g, "\\.")}: not an istiod Service\r\n`));
      expect(got, target).toContain("not an istiod Service");
    }
    expect(routed).toContain("fd00::1:443");
    expect(seen.length).toBe(before);
  });

  it("passes the route's reason on, in the status line the API server quotes (an istiod that is not running)", async () => {
    const got = await exchange("CONNECT 10.0.81.199:15012 HTTP/1.1\r\n\r\n");
    expect(got.split("\r\n")[0]).toBe("HTTP/1.1 502 the local cluster's egress proxy does not reach 10.0.81.199:15012: istiod 1-30 is not running");
    expect(got).toContain("istiod 1-30 is not running");
  });

  it("refuses what is not a CONNECT (a plain proxy GET to an outside address)", async () => {
    const routedBefore = routed.length;
    const got = await exchange("GET http://192.0.2.1/ HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n");
    expect(got).toMatch(/^HTTP\/1\.1 405 /);
    expect(routed.length).toBe(routedBefore);
  });

  it("dials 127.0.0.1 whatever the target: a route can only name a port", async () => {
    // a route table that wrongly maps an outside address still lands on loopback
    const sock = path.join(path.dirname(socketPath), "any.sock");
    const any = await startEgressProxy({ socketPath: sock, route: () => ({ port: upstreamPort }) });
    try {
      const s = connect(sock);
      const got = await new Promise<string>((resolve) => {
        let buf = "";
        s.on("data", (d) => {
          buf += d;
          if (buf.startsWith("HTTP/1.1 200") && !buf.includes("echo:")) s.write("x");
          if (buf.includes("echo:x")) resolve(buf);
        });
        s.write("CONNECT 203.0.113.7:443 HTTP/1.1\r\n\r\n");
      });
      s.destroy();
      expect(got).toContain("echo:x");
      expect(seen.at(-1)!.remote).toBe("127.0.0.1");
    } finally {
      any.close();
    }
  });

  it("reads the CONNECT line", () => {
    expect(connectTarget("CONNECT 10.0.0.1:443 HTTP/1.1")).toEqual({ host: "10.0.0.1", port: 443 });
    expect(connectTarget("CONNECT [fd00::2]:15012 HTTP/1.1")).toEqual({ host: "fd00::2", port: 15012 });
    expect(connectTarget("CONNECT 10.0.0.1:0 HTTP/1.1")).toBeUndefined();
    expect(connectTarget("CONNECT 10.0.0.1:70000 HTTP/1.1")).toBeUndefined();
    expect(connectTarget("GET / HTTP/1.1")).toBeUndefined();
  });

  it("logs each refusal with its target", () => {
    expect(lines.some((l) => l.startsWith("refused CONNECT 192.0.2.1:443"))).toBe(true);
  });
});
