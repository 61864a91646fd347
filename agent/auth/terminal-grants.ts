/* eslint-disable security/detect-non-literal-fs-filename -- the grants file lives in the agent's STATE_DIR setting, never a request value */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { accessEndedCloseCode, maxTerminalGrants } from "../../protocol/agent-protocol.ts";

// What the agent knows about the terminal links it redeemed (SPEC §9). A link's `jti` is its
// grant id: the agent remembers it until the link itself has expired, so it opens one
// session only, and while the cookie it traded the link for lives, so heartbeats can report
// it and the control plane can end it. A cookie counts only while its grant is here and not
// ended; forgetting a grant (a lost state file, eviction) ends its cookie, never the reverse.
// Kept in a file under STATE_DIR, so an agent restart reopens no link and ends no cookie.

/** Something that can be closed like a WebSocket (the sockets a grant's cookie opened). */
export type Closable = { close: (code: number, reason: string) => void; once: Once };
type Once = (event: "close", listener: () => void) => unknown;

export type TerminalGrants = {
  /**
   * Claims the link `id` for a new cookie: "used" when it was redeemed before, "full" when
   * too many recent links are held to take another without forgetting one still valid.
   */
  redeem: (grant: GrantTimes & { id: string }) => Promise<"redeemed" | "used" | "full">;
  /** The grant's cookie still counts: known, not ended, not expired. */
  holds: (id: string) => boolean;
  /** The grants whose cookies count, for the heartbeat. */
  held: () => string[];
  /** Ends grants (the control plane said so, or they expired) and closes their sockets. */
  end: (ids: readonly string[]) => Promise<void>;
  /** Drops what expired, closing the sockets of cookies that ran out. */
  sweep: () => Promise<void>;
  track: (id: string, socket: Closable) => void;
};

type GrantTimes = {
  /** When the link was issued (milliseconds since the epoch). */
  issuedAt: number;
  /** Until then the link is remembered, ended or not (milliseconds since the epoch). */
  linkExpiresAt: number;
  /** Until then the cookie counts, unless the grant is ended first. */
  cookieExpiresAt: number;
};
type Grant = Omit<GrantTimes, "issuedAt"> & { ended: boolean };

export type TerminalGrantsOptions = {
  /** Where the grants are kept; none: memory only (tests). */
  file?: string;
  now?: () => number;
  maxGrants?: number;
  log?: (message: string) => void;
};

const endedReason = "Terminal access ended; open it again";

const fileSchema = z.object({
  version: z.literal(1),
  grants: z.record(
    z.uuid(),
    z.object({ linkExpiresAt: z.number(), cookieExpiresAt: z.number(), ended: z.boolean() }),
  ),
});

export const terminalGrantsFileOf = (stateDir: string) =>
  path.join(stateDir, "terminal-grants.json");

/**
 * The grants kept in `options.file` (none yet when it does not exist). An unreadable file is
 * ignored (the next save replaces it): every cookie ends, and links issued before now are refused, since whether they
 * were used is no longer known.
 */
export async function loadTerminalGrants(
  options: TerminalGrantsOptions = {},
): Promise<TerminalGrants> {
  const now = options.now ?? Date.now;
  const saved = options.file ? await readGrantsFile(options.file) : {};
  if (saved === null)
    options.log?.(
      `${options.file} was unreadable; every terminal cookie ended and older links are refused.`,
    );
  const forgottenBefore = saved === null ? now() : Number.NEGATIVE_INFINITY;
  return createTerminalGrants(options, Object.entries(saved ?? {}), forgottenBefore);
}

/** Grants as `loadTerminalGrants` makes them; without a file and saved state: memory only. */
export function createTerminalGrants(
  options: TerminalGrantsOptions = {},
  saved: [string, Grant][] = [],
  forgottenBefore = Number.NEGATIVE_INFINITY,
): TerminalGrants {
  const grants = new Map(saved);
  const now = options.now ?? Date.now;
  const maxGrants = options.maxGrants ?? maxTerminalGrants;
  const sockets = new Map<string, Set<Closable>>();
  const save = createSaver(options.file, () => Object.fromEntries(grants));
  const holds = (id: string) => {
    const grant = grants.get(id);
    return !!grant && !grant.ended && grant.cookieExpiresAt > now();
  };
  const closeSockets = (id: string) => closeAll(sockets, id);
  const prune = () => pruneGrants(grants, sockets, now());
  return {
    async redeem({ id, issuedAt, linkExpiresAt, cookieExpiresAt }) {
      prune();
      if (grants.has(id) || issuedAt < forgottenBefore) return "used";
      if (grants.size >= maxGrants && !evictOldestCookie(grants, now())) return "full";
      grants.set(id, { linkExpiresAt, cookieExpiresAt, ended: false });
      await save();
      return "redeemed";
    },
    holds,
    held: () => [...grants.keys()].filter(holds),
    async end(ids) {
      for (const id of ids) {
        const grant = grants.get(id);
        if (grant) grant.ended = true;
        closeSockets(id);
      }
      prune();
      await save();
    },
    async sweep() {
      const before = grants.size;
      prune();
      if (grants.size !== before) await save();
    },
    track(id, socket) {
      // Ended while the upgrade was under way.
      if (!holds(id)) return socket.close(accessEndedCloseCode, endedReason);
      const set = sockets.get(id) ?? new Set();
      sockets.set(id, set.add(socket));
      socket.once("close", () => set.delete(socket));
    },
  } satisfies TerminalGrants;
}

function closeAll(sockets: Map<string, Set<Closable>>, id: string): void {
  for (const socket of sockets.get(id) ?? []) socket.close(accessEndedCloseCode, endedReason);
  sockets.delete(id);
}

// Closes the sockets of cookies that ended or ran out; forgets grants whose link is over too.
function pruneGrants(
  grants: Map<string, Grant>,
  sockets: Map<string, Set<Closable>>,
  time: number,
) {
  for (const [id, grant] of grants) {
    const cookieOver = grant.ended || grant.cookieExpiresAt <= time;
    if (cookieOver && sockets.has(id)) closeAll(sockets, id);
    if (cookieOver && grant.linkExpiresAt <= time) grants.delete(id);
  }
}

// Full: the oldest grant whose link has expired gives way (its cookie ends, the safe side).
// A grant whose link is still valid is never forgotten, or the link would open again.
function evictOldestCookie(grants: Map<string, Grant>, time: number): boolean {
  let oldest: [string, Grant] | undefined;
  for (const entry of grants)
    if (
      entry[1].linkExpiresAt <= time &&
      (!oldest || entry[1].cookieExpiresAt < oldest[1].cookieExpiresAt)
    )
      oldest = entry;
  if (oldest) grants.delete(oldest[0]);
  return !!oldest;
}

/** The saved grants; {} when there is no file yet, null when it cannot be read as one. */
async function readGrantsFile(file: string): Promise<Record<string, Grant> | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw error;
  }
  try {
    return fileSchema.parse(JSON.parse(text)).grants;
  } catch {
    return null;
  }
}

// One write at a time, each of the latest state: written aside and renamed, mode 0600.
function createSaver(file: string | undefined, snapshot: () => Record<string, Grant>) {
  let queue: Promise<void> = Promise.resolve();
  return () => {
    if (!file) return Promise.resolve();
    const write = async () => {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(`${file}.tmp`, JSON.stringify({ version: 1, grants: snapshot() }), {
        mode: 0o600,
      });
      await rename(`${file}.tmp`, file);
    };
    queue = queue.then(write, write);
    return queue;
  };
}
