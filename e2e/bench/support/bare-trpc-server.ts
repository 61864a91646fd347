import http from "node:http";
import type { AddressInfo } from "node:net";
import { initTRPC } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import superjson from "superjson";
import { sendFetchResponse, toFetchRequest } from "../../../server/http/fetch-adapter.ts";

// The HTTP bench's baseline: tRPC's own fetch adapter over node:http, with our conversion
// (fetch-adapter.ts) and our transformer (superjson, so the wire format is the same), and a
// trivial router: no Remix, no auth, no rate limit, no logging, no database. What our stack
// adds on top of this is what the bench's ratio measures.

const t = initTRPC.create({ transformer: superjson });
const router = t.router({
  system: t.router({
    info: t.procedure.query(() => ({ name: "Cloud AI Workspaces", version: "bench" })),
  }),
});

const origin = "http://127.0.0.1";
const server = http.createServer(async (req, res) => {
  try {
    const response = await fetchRequestHandler({
      endpoint: "/api/trpc",
      req: toFetchRequest(req, res, origin),
      router,
      createContext: () => ({}),
    });
    await sendFetchResponse(res, response);
  } catch {
    res.destroy();
  }
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: "bare tRPC server listening", port })}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
