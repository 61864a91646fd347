import http from "node:http";
import type { AddressInfo } from "node:net";
import { initTRPC } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import superjson from "superjson";
import { createDb } from "../../../db/client.ts";
import { sendFetchResponse, toFetchRequest } from "../../../server/http/fetch-adapter.ts";
import { listWorkspaces } from "../../../server/services/workspaces.ts";

// The HTTP bench's baselines: tRPC's own fetch adapter over node:http, with our conversion
// (fetch-adapter.ts) and our transformer (superjson, so the wire format is the same), and no
// Remix, auth, rate limit, logging or security headers. `system.info` is trivial (no
// database): the "bare tRPC fetch handler". `workspaces.list` runs the very query and
// answer of ours (services/workspaces.ts, same pool size) for BENCH_USER_ID, so its ratio
// is what our request path adds to the same work; what the answer itself costs (20 rows
// through drizzle and superjson) is in both.

const database = createDb(process.env.DATABASE_URL!, { max: 10, applicationName: "caw-bench" });
const owner = { userId: process.env.BENCH_USER_ID!, auditSubject: "bench" };

const t = initTRPC.create({ transformer: superjson });
const router = t.router({
  system: t.router({
    info: t.procedure.query(() => ({ name: "Cloud AI Workspaces", version: "bench" })),
  }),
  workspaces: t.router({
    list: t.procedure.query(() => listWorkspaces(database.db, owner)),
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
process.once("SIGTERM", () =>
  server.close(() => void database.close().then(() => process.exit(0))),
);
