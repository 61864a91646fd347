import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workspaces } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import { createLogger } from "../logger.ts";
import { createApiToken } from "../services/api-tokens.ts";
import { createLiveUpdates, type LiveUpdates } from "../services/live-updates.ts";
import { transitionWorkspace } from "../services/workspaces.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";
import type { AppLoadContextValue } from "./load-context.ts";

// live.updates over real HTTP (our web server, the Remix build, tRPC's SSE): a stream carries
// its caller's changes only, and stays one API call however many changes it carries.

let database: TestDatabase;
let hub: LiveUpdates;
let context: AppLoadContextValue;
let web: TestWebServer;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;
let bobToken: string;
const perMinute = 3;

beforeAll(async () => {
  database = await createTestDatabase();
  hub = createLiveUpdates({
    databaseUrl: database.url,
    logger: createLogger({ level: "silent", service: "test" }),
  });
  context = {
    ...(await createTestLoadContext(database, { API_RATE_LIMIT_PER_MINUTE: perMinute })),
    liveUpdates: hub,
  };
  web = await startTestWebServer(context);
  [alice, bob] = await Promise.all([
    createTestUser(context, "sse-alice"),
    createTestUser(context, "sse-bob"),
  ]);
  const owner = { userId: bob.id, auditSubject: bob.auditSubject };
  ({ token: bobToken } = await createApiToken(database.db, owner, { name: "sse" }, { limit: 20 }));
});
afterAll(async () => {
  await web?.close();
  await hub?.close();
  await database?.drop();
});

async function newWorkspace(user: AuthenticatedUser, name: string) {
  const [row] = await database.db
    .insert(workspaces)
    .values({
      ...{ userId: user.id, name, repository: "stand-in/sample", branch: "main" },
      ...{ provider: "local" as const, serverType: "local", location: "local" },
      idleTimeoutMinutes: 30,
    })
    .returning();
  return row!;
}

/** Reads the SSE body until `done(text so far)`; then hangs up, as a closed tab does. */
async function readStream(response: Response, done: (text: string) => boolean) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    text += value;
  }
  await reader.cancel();
  return text;
}

describe("live.updates over SSE", () => {
  it("streams the caller's changes, never another user's, as one API call", async () => {
    const response = await fetch(`${web.baseUrl}/api/trpc/live.updates`, {
      headers: { authorization: `Bearer ${bobToken}`, accept: "text/event-stream" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const mine = await newWorkspace(alice, "sse-not-bobs");
    const his = await newWorkspace(bob, "sse-bobs");
    // More changes than the per-minute budget: the stream was one call, so they all arrive.
    for (const to of ["provisioning", "booting", "running", "stopping"] as const)
      await transitionWorkspace(database.db, his.id, to, "test", "system");
    const text = await readStream(
      response,
      (sofar) => sofar.split(his.id).length - 1 >= 2 * perMinute,
    );
    expect(text).toContain('"resync"');
    expect(text).not.toContain(mine.id);
    expect(text).not.toContain(alice.id);
  });

  it("refuses a stream to a caller who is not signed in", async () => {
    const response = await fetch(`${web.baseUrl}/api/trpc/live.updates`, {
      headers: { accept: "text/event-stream" },
    });
    const text = await readStream(response, (sofar) => sofar.includes("UNAUTHORIZED"));
    expect(text).toContain("You are not signed in");
  });
});
