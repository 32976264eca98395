// The local API server's `cluster` egress (--egress-selector-config-file, HTTPConnect over a Unix
// socket): webhook and aggregated-API calls arrive as `CONNECT <ClusterIP>:<port>`. The cluster's
// Service addresses are not on this machine, so the proxy never dials them: `route` maps a target
// to a port on 127.0.0.1 (an istiod listener) or refuses it, and the only address ever dialled is
// 127.0.0.1. Everything else is answered with an error.
import { connect, createServer, type Server, type Socket } from "node:net";
import { rmSync } from "node:fs";

/** Where a CONNECT target goes: a port on 127.0.0.1, or the reason it is refused. */
export type Route = { port: number } | { refused: string };

/** `host:port` of a CONNECT request line, or undefined when it is not one (IPv6 in brackets). */
export function connectTarget(requestLine: string): { host: string; port: number } | undefined {
  const m = /^CONNECT (\[[0-9a-fA-F:.]+\]|[^\s:]+):(\d{1,5}) HTTP\/1\.[01]$/.exec(requestLine);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1]!.replace(/^\[|\]$/g, ""), port } : undefined;
}

const LOOPBACK = "127.0.0.1";
const MAX_HEADER = 16 * 1024;

/**
 * An error answer. The reason is also the status line's reason phrase: the API server quotes that
 * line (not the body) in the error a webhook call fails with, so `kubectl` shows why.
 */
function answer(sock: Socket, code: number, reason: string): void {
  const body = `${reason}\n`;
  const phrase = reason.replace(/[^\x20-\x7e]/g, " ").slice(0, 300);
  sock.end(`HTTP/1.1 ${code} ${phrase}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * Serves HTTP CONNECT on a Unix socket. `route` is asked for every target (it may look the
 * address up); `log` gets one line per connection. The socket file is replaced if it exists.
 */
export function startEgressProxy(opts: { socketPath: string; route: (host: string, port: number) => Route | Promise<Route>; log?: (line: string) => void }): Promise<Server> {
  const log = opts.log ?? (() => {});
  const server = createServer((client) => {
    let head = Buffer.alloc(0);
    client.on("error", () => client.destroy());
    const onData = async (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_HEADER) answer(client, 431, "request head too large");
        return;
      }
      client.off("data", onData);
      client.pause();
      const line = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
      const rest = head.subarray(end + 4);
      const target = connectTarget(line);
      if (!target) {
        log(`refused: not a CONNECT request: ${JSON.stringify(line.slice(0, 200))}`);
        return answer(client, 405, "only CONNECT <host>:<port> is served");
      }
      let route: Route;
      try {
        route = await opts.route(target.host, target.port);
      } catch (e) {
        route = { refused: `lookup failed: ${(e as Error).message}` };
      }
      if ("refused" in route) {
        log(`refused CONNECT ${target.host}:${target.port}: ${route.refused}`);
        return answer(client, 502, `the local cluster's egress proxy does not reach ${target.host}:${target.port}: ${route.refused}`);
      }
      // the one place that dials: always loopback, whatever the target was
      const upstream = connect({ host: LOOPBACK, port: route.port });
      let connected = false;
      upstream.once("connect", () => {
        connected = true;
        log(`CONNECT ${target.host}:${target.port} -> ${LOOPBACK}:${route.port}`);
        client.write("HTTP/1.1 200 Connection established\r\n\r\n");
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.once("error", (e) => {
        if (!connected) {
          log(`CONNECT ${target.host}:${target.port} -> ${LOOPBACK}:${route.port} failed: ${e.message}`);
          answer(client, 503, `${LOOPBACK}:${route.port} (for ${target.host}:${target.port}) refused: ${e.message}`);
        } else client.destroy();
      });
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    };
    client.on("data", onData);
  });
  rmSync(opts.socketPath, { force: true });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.socketPath, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
