import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditLog,
  jobs,
  notificationWebhooks,
  notifications,
  workspaces,
} from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { PermanentJobError } from "../jobs/runner.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import {
  deliverNotification,
  removeWebhook,
  setWebhook,
  testWebhook,
  webhookUrlSchema,
} from "./notification-webhooks.ts";
import { transitionWorkspaceIf } from "./workspaces.ts";

// SPEC §14: a notification reaches the user's webhook signed with their secret, through the job
// the notification queues; receivers on private addresses are refused outside the one-machine mode.

let database: TestDatabase;
let context: AppLoadContextValue;
let alice: AuthenticatedUser;
let receiver: Server;
let receiverUrl: string;
let answerStatus = 200;
const received: Array<{ headers: Record<string, unknown>; body: string }> = [];
const local = { allowPrivateAddresses: true };

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  alice = await createTestUser(context, "alice");
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answerStatus).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await new Promise((resolve) => receiver.close(resolve));
  await database.drop();
});

const owner = () => ({ userId: alice.id, auditSubject: alice.auditSubject });

async function stoppedWorkspaceNotification(name: string): Promise<number> {
  const [row] = await database.db
    .insert(workspaces)
    .values({
      userId: alice.id,
      name,
      repository: "stand-in/sample",
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
      state: "stopping",
    })
    .returning();
  await transitionWorkspaceIf(
    database.db,
    row!.id,
    ["stopping"],
    "stopped",
    "Server deleted",
    "worker",
  );
  const [notification] = await database.db
    .select({ id: notifications.id })
    .from(notifications)
    .where(eq(notifications.workspaceId, row!.id));
  const queued = await database.db
    .select()
    .from(jobs)
    .where(eq(jobs.kind, "notifications.deliver"));
  const job = queued.find((candidate) => candidate.payload.notificationId === notification!.id);
  expect(job?.workspaceId).toBeNull();
  return notification!.id;
}

describe("notification webhooks", () => {
  it("delivers the notification signed with the user's secret, shown only when set", async () => {
    const { secret } = await setWebhook(database.db, context.keyring, owner(), receiverUrl, local);
    const [stored] = await database.db.select().from(notificationWebhooks);
    expect(stored!.secretEncrypted).not.toContain(secret);
    const audit = await database.db.select({ details: auditLog.details }).from(auditLog);
    expect(JSON.stringify(audit)).not.toContain(secret);

    const id = await stoppedWorkspaceNotification("hooked");
    expect(await deliverNotification(database.db, context.keyring, id, local)).toEqual({
      status: 200,
    });
    const [delivery] = received;
    expect(delivery!.headers["x-caw-event"]).toBe("stopped");
    expect(delivery!.headers["x-caw-delivery"]).toBe(String(id));
    const expected = `sha256=${createHmac("sha256", secret).update(delivery!.body).digest("hex")}`;
    const signature = String(delivery!.headers["x-caw-signature"]);
    expect(timingSafeEqual(Buffer.from(signature), Buffer.from(expected))).toBe(true);
    expect(JSON.parse(delivery!.body)).toMatchObject({
      id,
      kind: "stopped",
      workspace: { name: "hooked" },
      message: "hooked stopped (Server deleted). Its files are kept; start it again any time.",
    });
  });

  it("gives up at once on a refusal and retries a server error", async () => {
    answerStatus = 410;
    const refused = await stoppedWorkspaceNotification("refused");
    await expect(
      deliverNotification(database.db, context.keyring, refused, local),
    ).rejects.toBeInstanceOf(PermanentJobError);
    answerStatus = 503;
    const later = await stoppedWorkspaceNotification("later");
    const retry = deliverNotification(database.db, context.keyring, later, local);
    await expect(retry).rejects.toThrow("The webhook answered 503. Trying again later.");
    await expect(retry).rejects.not.toBeInstanceOf(PermanentJobError);
    answerStatus = 200;
  });

  it("sends a signed test event on request and says when the receiver refuses it", async () => {
    const { secret } = await setWebhook(database.db, context.keyring, owner(), receiverUrl, local);
    expect(await testWebhook(database.db, context.keyring, owner(), local)).toEqual({
      status: 200,
    });
    const delivery = received.at(-1)!;
    expect(delivery.headers["x-caw-event"]).toBe("test");
    expect(delivery.headers["x-caw-signature"]).toBe(
      `sha256=${createHmac("sha256", secret).update(delivery.body).digest("hex")}`,
    );
    expect(JSON.parse(delivery.body)).toMatchObject({ kind: "test", workspace: null });
    answerStatus = 401;
    await expect(testWebhook(database.db, context.keyring, owner(), local)).rejects.toThrow(
      "The webhook answered 401; it should answer 2xx. Check the receiver.",
    );
    answerStatus = 200;
  });

  it("takes only http(s) URLs without credentials in them", () => {
    expect(webhookUrlSchema.safeParse("https://hooks.example.com/caw").success).toBe(true);
    for (const url of ["ftp://hooks.example.com/x", "https://me:pw@hooks.example.com/x", "hooks"])
      expect(webhookUrlSchema.safeParse(url).success).toBe(false);
  });

  it("refuses private receivers where only public ones are allowed", async () => {
    const strict = { allowPrivateAddresses: false };
    for (const url of [
      receiverUrl,
      "http://10.1.2.3/x",
      "http://[::1]:9/x",
      "http://ws-1.localhost/x",
    ])
      await expect(setWebhook(database.db, context.keyring, owner(), url, strict)).rejects.toThrow(
        /private or loopback address/,
      );
    // Saved while allowed, then delivered under the strict rule: refused for good, nothing sent.
    const count = received.length;
    const id = await stoppedWorkspaceNotification("strict");
    await expect(
      deliverNotification(database.db, context.keyring, id, strict),
    ).rejects.toBeInstanceOf(PermanentJobError);
    expect(received.length).toBe(count);
  });

  it("queues nothing once the webhook is removed", async () => {
    expect(await removeWebhook(database.db, owner())).toEqual({ removed: true });
    const before = await database.db
      .select()
      .from(jobs)
      .where(eq(jobs.kind, "notifications.deliver"));
    const [row] = await database.db
      .insert(workspaces)
      .values({
        userId: alice.id,
        name: "unhooked",
        repository: "stand-in/sample",
        branch: "main",
        provider: "local",
        serverType: "local",
        location: "local",
        idleTimeoutMinutes: 30,
        state: "stopping",
      })
      .returning();
    await transitionWorkspaceIf(
      database.db,
      row!.id,
      ["stopping"],
      "stopped",
      "Server deleted",
      "worker",
    );
    const after = await database.db
      .select()
      .from(jobs)
      .where(eq(jobs.kind, "notifications.deliver"));
    expect(after.length).toBe(before.length);
  });
});
