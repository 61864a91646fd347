import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workspaces } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { appendJobEvent, enqueueJob } from "../jobs/queue.ts";
import { createLogger } from "../logger.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { callerFor, createTestUser } from "../testing/test-users.ts";
import { createLiveUpdates, type LiveSignal, type LiveUpdates } from "./live-updates.ts";
import { transitionWorkspace } from "./workspaces.ts";

// ADR 0021 with a real PostgreSQL: the migration's triggers NOTIFY, the one LISTEN connection
// hears it and hands each change to its owner's subscribers only, and comes back by itself
// after its connection is cut.

let database: TestDatabase;
let context: AppLoadContextValue;
let hub: LiveUpdates;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;

beforeAll(async () => {
  database = await createTestDatabase();
  hub = createLiveUpdates({
    databaseUrl: database.url,
    logger: createLogger({ level: "silent", service: "test" }),
    retryDelaysMs: [50, 100, 200],
  });
  context = { ...(await createTestLoadContext(database)), liveUpdates: hub };
  [alice, bob] = await Promise.all([
    createTestUser(context, "live-alice"),
    createTestUser(context, "live-bob"),
  ]);
  await until(() => hub.isListening());
});
afterAll(async () => {
  await hub?.close();
  await database?.drop();
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Everything `user` hears until stopped. */
function record(user: AuthenticatedUser) {
  const heard: LiveSignal[] = [];
  const stop = hub.subscribe(user.id, (signal) => heard.push(signal));
  return { heard, stop };
}

async function newWorkspace(user: AuthenticatedUser, name: string) {
  const [row] = await context.db
    .insert(workspaces)
    .values({
      ...{ userId: user.id, name, repository: "stand-in/sample", branch: "main" },
      ...{ provider: "local" as const, serverType: "local", location: "local" },
      idleTimeoutMinutes: 30,
    })
    .returning();
  return row!;
}

const changesOf = (heard: LiveSignal[], workspaceId: string) =>
  heard.flatMap((signal) =>
    signal.type === "change" && signal.workspaceId === workspaceId ? [signal.change] : [],
  );

describe("live updates", () => {
  it("tells the owner of each state change, timeline entry, job and log line, and nobody else", async () => {
    const a = record(alice);
    const b = record(bob);
    const workspace = await newWorkspace(alice, "live-one");
    await transitionWorkspace(context.db, workspace.id, "provisioning", "test", "system");
    const job = await enqueueJob(context.db, { kind: "test.live", workspaceId: workspace.id });
    await appendJobEvent(context.db, job.id, "info", "a log line");
    await until(() => changesOf(a.heard, workspace.id).includes("job"));
    await until(() => changesOf(a.heard, workspace.id).length >= 4);
    expect(new Set(changesOf(a.heard, workspace.id))).toEqual(
      new Set(["workspace", "timeline", "job"]),
    );
    // Bob's own change arrives, so his feed works; Alice's never did.
    const his = await newWorkspace(bob, "live-bob");
    await until(() => changesOf(b.heard, his.id).length > 0);
    expect(b.heard.filter((signal) => signal.type === "change")).toEqual([
      { type: "change", workspaceId: his.id, change: "workspace" },
    ]);
    a.stop();
    b.stop();
  });

  it("stays quiet for heartbeats, which change nothing a page shows", async () => {
    const a = record(alice);
    const workspace = await newWorkspace(alice, "live-quiet");
    await context.db
      .update(workspaces)
      .set({ lastHeartbeatAt: new Date() })
      .where(eq(workspaces.id, workspace.id));
    await context.db
      .update(workspaces)
      .set({ idleStopAt: new Date() })
      .where(eq(workspaces.id, workspace.id));
    // Notifications arrive in commit order: once a later one is here, all before it are.
    const marker = await newWorkspace(alice, "live-marker");
    await until(() => changesOf(a.heard, marker.id).length > 0);
    expect(changesOf(a.heard, workspace.id)).toEqual(["workspace", "workspace"]);
    a.stop();
  });

  it("listens again after its connection is cut, and tells subscribers to catch up", async () => {
    const a = record(alice);
    const [cut] = await database.sql<{ cut: boolean }[]>`
      select pg_terminate_backend(pid) as cut from pg_stat_activity
      where application_name = 'caw-web-live' and datname = current_database()`;
    expect(cut?.cut).toBe(true);
    await until(() => a.heard.some((signal) => signal.type === "resync"));
    const feed = a.heard.filter((signal) => signal.type !== "change").map((signal) => signal.type);
    expect(feed.slice(0, 2)).toEqual(["down", "resync"]);
    const workspace = await newWorkspace(alice, "live-after-cut");
    await until(() => changesOf(a.heard, workspace.id).length > 0);
    a.stop();
  });

  it("refuses a caller who is not signed in", async () => {
    await expect(callerFor(context, null).live.updates()).rejects.toThrow(/not signed in/);
  });
});

/** A TCP relay to the database that can go away for a while, as a restarting server does. */
async function startRelay(target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = createConnection(Number(target.port), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => {});
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  return {
    url: () => Object.assign(new URL(target), { hostname: "127.0.0.1", port: String(port) }).href,
    /** Refuses connections (and cuts the open ones) until `up()`. */
    down: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server!.close(() => resolve());
      }),
    up: listen,
  };
}

describe("live updates across a database outage", () => {
  it("keeps trying while the database refuses connections, then listens again", async () => {
    const relay = await startRelay(new URL(database.url));
    const outageHub = createLiveUpdates({
      databaseUrl: relay.url(),
      logger: createLogger({ level: "silent", service: "test" }),
      retryDelaysMs: [50, 100, 200],
    });
    try {
      await until(() => outageHub.isListening());
      const heard: LiveSignal[] = [];
      outageHub.subscribe(alice.id, (signal) => heard.push(signal));
      await relay.down();
      await until(() => heard.some((signal) => signal.type === "down"));
      // Several refused attempts: postgres.js alone would have tried once and given up.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(outageHub.isListening()).toBe(false);
      await relay.up();
      await until(() => heard.some((signal) => signal.type === "resync"));
      const workspace = await newWorkspace(alice, "live-after-outage");
      await until(() => changesOf(heard, workspace.id).length > 0);
    } finally {
      await outageHub.close();
      await relay.down().catch(() => {});
    }
  });
});
