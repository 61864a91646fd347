/* eslint-disable security/detect-non-literal-fs-filename -- the paths come from the agent's own settings (STATE_DIR, AGENT_RUNTIME_DIR), never from a request */
import { createHash } from "node:crypto";
import { chmod, chown, lstat, mkdir, rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import type { SessionInfo, SessionStatus } from "../../protocol/agent-sessions.ts";
import type { AgentConfig } from "../config.ts";
import {
  controlRequestMaxBytes,
  controlRequestSchema,
  type ControlRequest,
} from "./control-protocol.ts";

// The agent's end of the `caw` CLI (SPEC §14): a Unix socket that only root and the workspace
// user's group can reach (folder 0750 or 0700, socket 0660, group = the user's), where
// `caw status` sets a session's AI-agent status, `caw sessions` lists them and `caw env` fetches
// the workspace's secrets for a new shell. Being able to connect is the authorization: the same
// people can read the shells' environments anyway. One JSON line in, one out, then close.

/** What the control socket needs of the session manager. */
export type SessionRegistry = {
  list(): SessionInfo[];
  /** Sets (or with null clears) a session's status; rejects with a message when it is unknown. */
  setStatus(
    name: string,
    status: SessionStatus | null,
    message: string | null,
  ): Promise<SessionInfo>;
  /** The session a tmux pane (`%3`, from $TMUX_PANE) belongs to; null when none. Optional. */
  sessionOfPane?(pane: string): Promise<string | null>;
};

export type ControlSocketOptions = {
  socketPath: string;
  /** The workspace user's group: the only one besides root (and the agent's user) that may connect. */
  group: number;
  sessions: SessionRegistry;
  /** The workspace's secrets, fetched fresh each time (helper A passes `client.secrets`). */
  secrets: () => Promise<Record<string, string>>;
  log: (message: string) => void;
};

export type ControlSocket = { socketPath: string; close(): Promise<void> };

/** sun_path holds 108 bytes with its NUL; keep a margin. */
const maxSocketPathBytes = 100;

/**
 * Where the control socket lives: `$AGENT_RUNTIME_DIR/control.sock` on a VM (WORKSPACE_USER),
 * else `$STATE_DIR/run/control.sock`. A path too long for a Unix socket moves to
 * `/tmp/caw-<uid>/<hash of the state folder>.sock` (the folder 0700, the agent's own).
 */
export function controlSocketPathOf(config: AgentConfig, uid = process.getuid?.() ?? 0): string {
  const preferred = config.WORKSPACE_USER
    ? path.join(config.AGENT_RUNTIME_DIR, "control.sock")
    : path.join(config.STATE_DIR, "run", "control.sock");
  if (Buffer.byteLength(preferred) <= maxSocketPathBytes) return preferred;
  const hash = createHash("sha256").update(path.resolve(config.STATE_DIR)).digest("hex");
  return path.join("/tmp", `caw-${uid}`, `${hash.slice(0, 16)}.sock`);
}

/** Listens on `socketPath` (mode 0660, group `group`) until closed. */
export async function startControlSocket(options: ControlSocketOptions): Promise<ControlSocket> {
  const { socketPath } = options;
  await prepareFolder(path.dirname(socketPath), options.group);
  await rm(socketPath, { force: true }); // left by the agent's previous run
  const open = new Set<net.Socket>();
  const server = net.createServer((connection) => {
    open.add(connection);
    connection.on("close", () => open.delete(connection));
    serveConnection(connection, options);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });
  await chown(socketPath, process.getuid!(), options.group);
  await chmod(socketPath, 0o660);
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const connection of open) connection.destroy();
      }),
  };
}

/** The folder, the agent's user's and the group's only; refuses a link or someone else's. */
async function prepareFolder(folder: string, group: number): Promise<void> {
  await mkdir(folder, { recursive: true, mode: 0o750 });
  const info = await lstat(folder);
  if (!info.isDirectory() || info.uid !== process.getuid!())
    throw new Error(
      `${folder} is not a folder owned by the agent's user; remove it so the agent can make it.`,
    );
  await chown(folder, info.uid, group);
  await chmod(folder, 0o750);
}

function serveConnection(connection: net.Socket, options: ControlSocketOptions): void {
  connection.on("error", () => connection.destroy());
  connection.setTimeout(30_000, () => connection.destroy());
  let text = "";
  connection.setEncoding("utf8");
  connection.on("data", (chunk: string) => {
    text += chunk;
    const end = text.indexOf("\n");
    if (end < 0 && Buffer.byteLength(text) <= controlRequestMaxBytes) return;
    connection.removeAllListeners("data");
    connection.pause();
    const line = end < 0 ? null : text.slice(0, end);
    void answer(line, options).then((body) => connection.end(`${JSON.stringify(body)}\n`));
  });
}

async function answer(line: string | null, options: ControlSocketOptions): Promise<unknown> {
  if (line === null)
    return refusal(`Send one JSON line of at most ${controlRequestMaxBytes} bytes.`);
  let parsed;
  try {
    parsed = controlRequestSchema.safeParse(JSON.parse(line));
  } catch {
    return refusal("That is not JSON; send one JSON object on one line.");
  }
  if (!parsed.success)
    return refusal(`Not a request caw knows: ${parsed.error.issues[0]?.message}`);
  try {
    return await perform(parsed.data, options);
  } catch (error) {
    // Never the request itself in the log: `env` answers carry secrets, requests do not, but
    // a status message is the user's text and has no place there either.
    options.log(`caw ${parsed.data.op} failed: ${errorMessage(error)}`);
    return refusal(errorMessage(error));
  }
}

async function perform(request: ControlRequest, options: ControlSocketOptions): Promise<unknown> {
  switch (request.op) {
    case "sessions":
      return { ok: true, sessions: options.sessions.list() };
    case "env":
      return { ok: true, secrets: await options.secrets() };
    case "status": {
      const name = await sessionOf(request, options.sessions);
      const session = await options.sessions.setStatus(name, request.status, request.message);
      return { ok: true, session };
    }
  }
}

async function sessionOf(
  request: Extract<ControlRequest, { op: "status" }>,
  sessions: SessionRegistry,
): Promise<string> {
  // The pane first: it survives a rename, while a shell keeps the CAW_SESSION it started with.
  const byPane = request.pane ? await sessions.sessionOfPane?.(request.pane) : null;
  if (byPane) return byPane;
  if (request.session) return request.session;
  throw new Error(
    "Not inside a workspace session: run this in a terminal of the workspace " +
      "(its shells have CAW_SESSION set), or set CAW_SESSION to a session's name.",
  );
}

const refusal = (error: string) => ({ ok: false, error });
const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
