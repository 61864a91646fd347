import { createHmac, randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/client.ts";
import { notificationWebhooks, notifications, workspaces } from "../../db/schema.ts";
import { decryptSecret, encryptSecret, type Keyring } from "../crypto/envelope.ts";
import { AppError } from "../errors.ts";
import { PermanentJobError } from "../jobs/runner.ts";
import { recordAuditEvent } from "./audit.ts";
import type { Owner } from "./owner.ts";

// SPEC §14: a user's notification webhook (docs/adr/0015). Each notification is POSTed as JSON,
// signed `x-caw-signature: sha256=<HMAC-SHA256 of the raw body>` with a secret we generate and
// show once. Outside the one-machine mode the receiver must be a public address, checked on
// every delivery against what the name resolves to then (the connection goes to that address).

export const webhookUrlSchema = z
  .string()
  .trim()
  .max(2000, { error: "keep the webhook URL under 2000 characters" })
  .pipe(z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }))
  // zod runs this after a failed URL check too: an unparsable one is that check's to report.
  .refine(
    (value) => !URL.canParse(value) || (!new URL(value).username && !new URL(value).password),
    {
      error: "put no user name or password in the URL; check the x-caw-signature header instead",
    },
  );

export type WebhookPolicy = { allowPrivateAddresses: boolean };

const secretContext = (userId: string) => `notification_webhooks.secret:${userId}`;

export async function getWebhook(db: Database, owner: Owner) {
  const [row] = await db
    .select({ url: notificationWebhooks.url, updatedAt: notificationWebhooks.updatedAt })
    .from(notificationWebhooks)
    .where(eq(notificationWebhooks.userId, owner.userId));
  return row ?? null;
}

/** Saves the URL with a new signing secret, which is answered once and never again. */
export async function setWebhook(
  db: Database,
  keyring: Keyring,
  owner: Owner,
  url: string,
  policy: WebhookPolicy,
): Promise<{ url: string; secret: string }> {
  await checkReceiver(new URL(url), policy, (reason) => new AppError("BAD_REQUEST", reason));
  const secret = `cawwh_${randomBytes(32).toString("base64url")}`;
  const secretEncrypted = await encryptSecret(keyring, secret, secretContext(owner.userId));
  const values = { userId: owner.userId, url, secretEncrypted, updatedAt: new Date() };
  await db
    .insert(notificationWebhooks)
    .values(values)
    .onConflictDoUpdate({ target: notificationWebhooks.userId, set: values });
  await recordAuditEvent(db, {
    actorSubject: owner.auditSubject,
    action: "webhook.set",
    targetType: "user",
    targetId: owner.userId,
    details: { host: new URL(url).host },
  });
  return { url, secret };
}

export async function removeWebhook(db: Database, owner: Owner): Promise<{ removed: boolean }> {
  const removed = await db
    .delete(notificationWebhooks)
    .where(eq(notificationWebhooks.userId, owner.userId))
    .returning({ userId: notificationWebhooks.userId });
  if (removed.length > 0)
    await recordAuditEvent(db, {
      actorSubject: owner.auditSubject,
      action: "webhook.remove",
      targetType: "user",
      targetId: owner.userId,
    });
  return { removed: removed.length > 0 };
}

/** Delivers one notification (the `notifications.deliver` job); throws to be retried. */
export async function deliverNotification(
  db: Database,
  keyring: Keyring,
  notificationId: number,
  policy: WebhookPolicy,
): Promise<{ status: number } | null> {
  const [row] = await db
    .select({ notification: notifications, workspaceName: workspaces.name })
    .from(notifications)
    .innerJoin(workspaces, eq(workspaces.id, notifications.workspaceId))
    .where(eq(notifications.id, notificationId));
  if (!row) return null;
  const [webhook] = await db
    .select()
    .from(notificationWebhooks)
    .where(eq(notificationWebhooks.userId, row.notification.userId));
  // Removed since: nothing to deliver.
  if (!webhook) return null;
  const secret = await decryptSecret(
    keyring,
    webhook.secretEncrypted,
    secretContext(webhook.userId),
  );
  const { notification } = row;
  const body = JSON.stringify({
    id: notification.id,
    kind: notification.kind,
    message: notification.message,
    workspace: { id: notification.workspaceId, name: row.workspaceName },
    session: notification.sessionName,
    createdAt: notification.createdAt.toISOString(),
  });
  const status = await postSigned(new URL(webhook.url), body, secret, notification, policy);
  if (status >= 200 && status < 300) return { status };
  const message = `The webhook answered ${status}.`;
  // A receiver that refuses (other than "later") will refuse again.
  if (status >= 400 && status < 500 && status !== 408 && status !== 429)
    throw new PermanentJobError(`${message} Check the receiver; it is not asked again.`);
  throw new Error(`${message} Trying again later.`);
}

/**
 * Sends a signed test event (kind "test", no workspace) to the owner's webhook at once, so they
 * can check their receiver and its signature check before a real notification comes.
 */
export async function testWebhook(
  db: Database,
  keyring: Keyring,
  owner: Owner,
  policy: WebhookPolicy,
): Promise<{ status: number }> {
  const [webhook] = await db
    .select()
    .from(notificationWebhooks)
    .where(eq(notificationWebhooks.userId, owner.userId));
  if (!webhook) throw new AppError("NOT_FOUND", "Set a webhook URL first, then test it.");
  const secret = await decryptSecret(keyring, webhook.secretEncrypted, secretContext(owner.userId));
  const event = { id: 0, kind: "test" };
  const body = JSON.stringify({
    ...event,
    message: "A test from Cloud AI Workspaces: your webhook receives notifications.",
    workspace: null,
    session: null,
    createdAt: new Date().toISOString(),
  });
  const refuse = (reason: string) => new AppError("BAD_REQUEST", reason);
  const status = await postSigned(new URL(webhook.url), body, secret, event, policy, refuse).catch(
    (error: unknown) => {
      if (error instanceof AppError) throw error;
      throw refuse(`The webhook did not answer (${describeFailure(error)}). Check the URL.`);
    },
  );
  if (status < 200 || status >= 300)
    throw refuse(`The webhook answered ${status}; it should answer 2xx. Check the receiver.`);
  return { status };
}

function describeFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
}

/** The HMAC-SHA256 signature header value of `body` (receivers compute the same). */
export function signWebhookBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

async function postSigned(
  url: URL,
  body: string,
  secret: string,
  notification: { id: number; kind: string },
  policy: WebhookPolicy,
  refuse: (reason: string) => Error = (reason) => new PermanentJobError(reason),
): Promise<number> {
  const address = await checkReceiver(url, policy, refuse);
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [address]);
    else callback(null, address.address, address.family);
  };
  const options = {
    method: "POST",
    lookup: pinned,
    timeout: 10_000,
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "user-agent": "cloud-ai-workspaces-webhook",
      "x-caw-event": notification.kind,
      "x-caw-delivery": String(notification.id),
      "x-caw-signature": signWebhookBody(body, secret),
    },
  };
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    };
    const request =
      url.protocol === "https:"
        ? httpsRequest(url, options, onResponse)
        : httpRequest(url, options, onResponse);
    request.once("timeout", () => request.destroy(new Error("the webhook did not answer in 10 s")));
    request.once("error", reject);
    request.end(body);
  });
}

/** The address to connect to, after refusing private ones where they are not allowed. */
async function checkReceiver(
  url: URL,
  policy: WebhookPolicy,
  refuse: (reason: string) => Error,
): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const resolved = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await lookup(host.endsWith(".localhost") || host === "localhost" ? "127.0.0.1" : host, {
        all: true,
      }).catch(() => {
        throw refuse(`The webhook host ${host} does not resolve. Check the URL.`);
      });
  if (!policy.allowPrivateAddresses)
    for (const { address, family } of resolved)
      if (privateRanges.check(address, family === 6 ? "ipv6" : "ipv4"))
        throw refuse(
          `The webhook host ${host} is a private or loopback address (${address}); this install only sends webhooks to public addresses.`,
        );
  return resolved[0]!;
}

const privateRanges = (() => {
  const list = new BlockList();
  for (const [network, prefix] of [
    ["0.0.0.0", 8],
    ["10.0.0.0", 8],
    ["100.64.0.0", 10],
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.168.0.0", 16],
  ] as const)
    list.addSubnet(network, prefix, "ipv4");
  for (const [network, prefix] of [
    ["::1", 128],
    ["::", 128],
    ["fc00::", 7],
    ["fe80::", 10],
    ["::ffff:0:0", 96],
  ] as const)
    list.addSubnet(network, prefix, "ipv6");
  return list;
})();
