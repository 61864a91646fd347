import postgres from "postgres";
import { z } from "zod";
import type { CredentialChange } from "../auth/credential-cache.ts";
import type { Logger } from "../logger.ts";

// Live updates (issue #14, ADR 0021): triggers (db/migrations/0008_live_updates.sql) NOTIFY
// `caw_live` with who owns what changed; one LISTEN connection per web process fans each
// notification out to the subscribers of that owner only. Notifications sent while the
// connection is down are lost, so every (re)connection tells subscribers to catch up.

export const liveChannel = "caw_live";
/** Token and user changes that end what web processes hold in memory (migration 0010). */
export const credentialChannel = "caw_credentials";

export const liveChangeKinds = [
  "workspace",
  "timeline",
  "job",
  "sessions",
  "cost",
  "notification",
] as const;

const payloadSchema = z.object({
  user: z.uuid(),
  workspace: z.uuid(),
  change: z.enum(liveChangeKinds),
});

const credentialPayloadSchema = z.object({ kind: z.enum(["token", "user"]), id: z.uuid() });

export type LiveChange = { workspaceId: string; change: (typeof liveChangeKinds)[number] };

/** What a subscriber hears: a change of one of its workspaces, or whether the feed is up. */
export type LiveSignal =
  | ({ type: "change" } & LiveChange)
  /** Listening (again): anything may have changed while nobody listened. */
  | { type: "resync" }
  /** The database connection is gone: changes are not heard until the next resync. */
  | { type: "down" }
  /** The web process is shutting down: the stream ends. */
  | { type: "closing" };

export type LiveUpdates = {
  /** Signals for `userId`'s workspaces only; answers the unsubscribe. */
  subscribe: (userId: string, listener: (signal: LiveSignal) => void) => () => void;
  /** Token and user changes, and "forget-all" whenever changes may have gone unheard. */
  onCredentialChange: (listener: (change: CredentialChange) => void) => () => void;
  isListening: () => boolean;
  /** Ends every subscription (they hear nothing more) and the connection. */
  close: () => Promise<void>;
};

export type LiveUpdatesOptions = {
  databaseUrl: string;
  logger: Logger;
  /** Waits between attempts to listen again after the connection dropped. */
  retryDelaysMs?: readonly number[];
};

/** Opens the process's one LISTEN connection (its own, outside the pool) and keeps it up. */
export function createLiveUpdates(options: LiveUpdatesOptions): LiveUpdates {
  const { logger } = options;
  const delays = options.retryDelaysMs ?? [250, 1_000, 2_000, 5_000];
  const subscribers = new Map<string, Set<(signal: LiveSignal) => void>>();
  const credentialListeners = new Set<(change: CredentialChange) => void>();
  let listening = false;
  let closed = false;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const broadcast = (signal: LiveSignal) => {
    for (const listeners of subscribers.values())
      for (const listener of listeners) listener(signal);
    if (signal.type !== "change")
      for (const listener of credentialListeners) listener({ type: "forget-all" });
  };
  const deliverCredentialChange = (payload: string) => {
    const parsed = credentialPayloadSchema.safeParse(safeJson(payload));
    // Unreadable: whatever it named must not stay trusted.
    const change: CredentialChange = parsed.success
      ? { type: parsed.data.kind, id: parsed.data.id }
      : { type: "forget-all" };
    for (const listener of credentialListeners) listener(change);
  };
  const deliver = (payload: string) => {
    const parsed = payloadSchema.safeParse(safeJson(payload));
    if (!parsed.success) return void logger.warn("ignored a malformed live-update notification");
    const { user, workspace, change } = parsed.data;
    for (const listener of subscribers.get(user) ?? [])
      listener({ type: "change", workspaceId: workspace, change });
  };
  // postgres.js re-listens once by itself after a drop and gives up if that fails (a database
  // restart takes longer), so this connection is watched here and re-listened until it works.
  const sql = postgres(options.databaseUrl, {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    connect_timeout: 5,
    fetch_types: false,
    onnotice: () => {},
    connection: { application_name: "caw-web-live" },
    onclose: () => {
      if (!listening) return;
      listening = false;
      if (closed) return;
      logger.warn("live updates: lost the database connection; pages poll until it is back");
      broadcast({ type: "down" });
      scheduleListen(0);
    },
    // Undocumented in the types but what sql.listen itself is built on (postgres 3.4).
    ...({
      onnotify: (channel: string, payload: string) => {
        if (channel === liveChannel) deliver(payload);
        else if (channel === credentialChannel) deliverCredentialChange(payload);
      },
    } as object),
  });

  async function listen(attempt: number): Promise<void> {
    retry = undefined;
    if (closed) return;
    try {
      await sql.unsafe(`listen ${liveChannel}`);
      await sql.unsafe(`listen ${credentialChannel}`);
      listening = true;
      logger.info({ channel: liveChannel }, "live updates: listening");
      broadcast({ type: "resync" });
    } catch (error) {
      logger[attempt === 0 ? "warn" : "debug"](
        { err: error },
        "live updates: cannot listen yet; retrying",
      );
      scheduleListen(attempt + 1);
    }
  }
  function scheduleListen(attempt: number) {
    if (closed || retry) return;
    retry = setTimeout(() => void listen(attempt), delays[Math.min(attempt, delays.length - 1)]);
  }
  void listen(0);

  return {
    subscribe(userId, listener) {
      const listeners = subscribers.get(userId) ?? new Set();
      listeners.add(listener);
      subscribers.set(userId, listeners);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) subscribers.delete(userId);
      };
    },
    onCredentialChange(listener) {
      credentialListeners.add(listener);
      return () => void credentialListeners.delete(listener);
    },
    isListening: () => listening,
    async close() {
      closed = true;
      listening = false;
      clearTimeout(retry);
      broadcast({ type: "closing" });
      subscribers.clear();
      await sql.end({ timeout: 2 });
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export type LiveStreamItem = Exclude<LiveSignal, { type: "closing" }> | { type: "ping" };

/**
 * `userId`'s signals as a stream: first whether the feed is up (resync or down), then each
 * signal, and a ping every `pingMs` so proxies keep the connection and a gone client is
 * noticed. Ends when `abort` fires or the hub closes.
 */
export async function* streamLiveSignals(
  hub: LiveUpdates,
  userId: string,
  abort: AbortSignal,
  pingMs = 25_000,
): AsyncGenerator<LiveStreamItem> {
  const queue: (LiveSignal | { type: "ping" })[] = [
    hub.isListening() ? { type: "resync" } : { type: "down" },
  ];
  let wake: (() => void) | undefined;
  const nudge = () => {
    wake?.();
    wake = undefined;
  };
  const unsubscribe = hub.subscribe(userId, (signal) => {
    queue.push(signal);
    nudge();
  });
  const ping = setInterval(() => {
    queue.push({ type: "ping" });
    nudge();
  }, pingMs);
  abort.addEventListener("abort", nudge, { once: true });
  try {
    while (!abort.aborted) {
      const next = queue.shift();
      if (!next) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (next.type === "closing") return;
      yield next;
    }
  } finally {
    clearInterval(ping);
    unsubscribe();
    abort.removeEventListener("abort", nudge);
  }
}
