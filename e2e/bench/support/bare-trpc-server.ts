import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { initTRPC } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import superjson from "superjson";
import { createDb } from "../../../db/client.ts";
import { sendFetchResponse } from "../../../server/http/fetch-adapter.ts";
import { listWorkspaces } from "../../../server/services/workspaces.ts";

// The HTTP bench's baselines: tRPC's own fetch adapter over node:http, with the plain
// node:http → Fetch conversion below (what tRPC's own node adapter does, and what ours was
// until ADR 0030: kept here as it was, so that a cheaper conversion of ours counts as ours),
// our answer writer (fetch-adapter.ts) and our transformer (superjson, so the wire format is
// the same), and no Remix, auth, rate limit, logging or security headers. `system.info` is trivial (no
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

/** A Headers copy, a parsed URL and an abort signal handed to undici as an init signal. */
function toPlainFetchRequest(req: IncomingMessage, res: ServerResponse): Request {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const init = { method: req.method ?? "GET", headers, signal: controller.signal };
  return new Request(new URL(req.url ?? "/", origin), init);
}
const server = http.createServer(async (req, res) => {
  try {
    const response = await fetchRequestHandler({
      endpoint: "/api/trpc",
      req: toPlainFetchRequest(req, res),
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
