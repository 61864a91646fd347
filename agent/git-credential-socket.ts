/* eslint-disable security/detect-non-literal-fs-filename -- the folder is the agent's AGENT_RUNTIME_DIR setting, never a request value */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { chmod, chown, lstat, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import {
  gitCredentialRequestSchema,
  type GitCredential,
  type GitCredentialRequest,
} from "../protocol/agent-protocol.ts";
import { ControlPlaneError } from "./control-plane-client.ts";
import { ownRepositoryRequest } from "./git-credential-helper.ts";

// With WORKSPACE_USER, git runs as that user and cannot read the agent's state (root, 0700).
// Rather than hand that user the agent token (a group-readable copy), the root agent answers
// credential requests itself on a Unix socket that only root and the user's group can reach
// (folder 0750 and socket 0660, both group = the user's group). The helper git runs sends
// what git asked; the agent checks it is the workspace's own repository and asks the control
// plane with its token, which therefore never leaves the agent process.

export const gitCredentialSocketOf = (runtimeDir: string) =>
  path.join(runtimeDir, "git-credential.sock");

export type GitCredentialSocketOptions = {
  /** AGENT_RUNTIME_DIR: made (or taken over) as root:`gid`, mode 0750. */
  runtimeDir: string;
  /** The workspace user's group: the only one, besides root, that may connect. */
  gid: number;
  cloneUrl: string;
  ask: (request: GitCredentialRequest) => Promise<GitCredential>;
  log: (message: string) => void;
};

export type GitCredentialSocket = { socketPath: string; close(): Promise<void> };

export async function serveGitCredentials(
  options: GitCredentialSocketOptions,
): Promise<GitCredentialSocket> {
  const socketPath = gitCredentialSocketOf(options.runtimeDir);
  await prepareFolder(options.runtimeDir, options.gid);
  await rm(socketPath, { force: true }); // left by the agent's previous run
  const server = http.createServer((req, res) => {
    answer(req, res, options).catch((error: unknown) => {
      options.log(`Git credential request failed: ${String(error)}`);
      reply(res, 502, { message: "The agent could not ask the control plane; try again." });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });
  await chown(socketPath, process.getuid!(), options.gid);
  await chmod(socketPath, 0o660);
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // a helper still connected must not hold up a stop
      }),
  };
}

/** The folder, root's and the group's only; refuses one that is a link or someone else's. */
async function prepareFolder(folder: string, gid: number): Promise<void> {
  await mkdir(folder, { recursive: true, mode: 0o750 });
  const info = await lstat(folder);
  if (!info.isDirectory() || info.uid !== process.getuid!())
    throw new Error(
      `AGENT_RUNTIME_DIR ${folder} is not a folder owned by the agent's user; remove it.`,
    );
  await chown(folder, info.uid, gid);
  await chmod(folder, 0o750);
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  options: GitCredentialSocketOptions,
): Promise<void> {
  if (req.method !== "POST" || req.url !== "/git-credential")
    return reply(res, 404, { message: "Send POST /git-credential." });
  const parsed = gitCredentialRequestSchema.safeParse(await readJson(req));
  if (!parsed.success) return reply(res, 400, { message: "Expected protocol, host and path." });
  const request = ownRepositoryRequest(parsed.data, options.cloneUrl);
  if (!request)
    return reply(res, 403, {
      message: "Credentials are only given for this workspace's repository.",
    });
  try {
    reply(res, 200, await options.ask(request));
  } catch (error) {
    if (!(error instanceof ControlPlaneError && error.status < 500)) throw error;
    reply(res, 403, { message: error.message });
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const chunk of req) {
    text += (chunk as Buffer).toString("utf8");
    if (text.length > 16 * 1024) return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
