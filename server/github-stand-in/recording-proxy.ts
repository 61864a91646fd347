import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Exchange } from "../testing/openapi-contract.ts";

// For contract tests: a loopback proxy in front of the stand-in's REST API that records
// every exchange our clients have with it (method, path, query, JSON body sent and answered).
// `Link` headers are rewritten to the proxy, so following rel="next" is recorded too.

export type RecordingProxy = {
  /** The proxy's base, standing in for the stand-in's url (its apiUrl is `${url}/api/v3`). */
  url: string;
  exchanges: Exchange[];
  close: () => Promise<void>;
};

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const exchanges: Exchange[] = [];
  let origin = "";
  const server = http.createServer((req, res) => {
    void forward(req, res).catch((error: unknown) => {
      res.writeHead(502).end(String(error));
    });
  });

  async function forward(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const sent = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", target);
    const headers = new Headers();
    for (const name of ["authorization", "accept", "content-type", "user-agent"]) {
      const value = req.headers[name];
      if (typeof value === "string") headers.set(name, value);
    }
    const method = req.method ?? "GET";
    const answer = await fetch(url, { method, headers, body: sent || undefined });
    const text = await answer.text();
    exchanges.push({
      method,
      path: url.pathname,
      query: url.searchParams.toString(),
      status: answer.status,
      body: sent ? (JSON.parse(sent) as unknown) : undefined,
      response: text ? (JSON.parse(text) as unknown) : undefined,
    });
    const out: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection")
        out[name] = name === "link" ? value.replaceAll(target, origin) : value;
    });
    res.writeHead(answer.status, out).end(text);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    exchanges,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
