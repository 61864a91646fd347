import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";

// A TCP forward from the test network's host address to a loopback server, as a host's
// address is to a service behind it: the machines reach the control plane and the GitHub
// stand-in this way, byte for byte (HTTP, git's smart protocol, WebSocket upgrades alike).

export type Forward = { url: string; close: () => Promise<void> };

export async function forwardToLoopback(listenHost: string, targetUrl: string): Promise<Forward> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((incoming) => {
    const outgoing = net.connect(Number(target.port), target.hostname);
    for (const socket of [incoming, outgoing]) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.on("error", () => {
        incoming.destroy();
        outgoing.destroy();
      });
    }
    incoming.pipe(outgoing);
    outgoing.pipe(incoming);
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${target.protocol}//${listenHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * An HTTP forward whose answers a test may replace: `intercept` answers a request itself when
 * it returns true (a tampered download, say); everything else goes to the loopback server.
 */
export async function forwardHttpToLoopback(
  listenHost: string,
  targetUrl: string,
  intercept: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<Forward> {
  const target = new URL(targetUrl);
  const server = createServer((req, res) => {
    if (intercept(req, res)) return;
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.once("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${listenHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
