import http from "node:http";
import { stat } from "node:fs/promises";
import {
  gitCredentialSchema,
  repositoryOfGitPath,
  type GitCredential,
  type GitCredentialRequest,
} from "../protocol/agent-protocol.ts";
import { ControlPlaneError, createControlPlaneClient } from "./control-plane-client.ts";
import { readAgentState } from "./agent-state.ts";

// git's credential helper protocol (git-credential(1)): git runs
// `<agent> git-credential <state dir> get`, writes what it knows on stdin (protocol, host
// and, with `useHttpPath`, path), and reads `key=value` lines back. The password is asked
// from the control plane each time, so it is never stored on the VM.
//
// Anything in the workspace can make git ask (`git ls-remote http://127.0.0.1:9/x.git`), so
// the helper is configured for GITHUB_URL only, prints nothing for any other protocol, host
// or repository, and the control plane checks the same again.
//
// The helper's first argument is where the credentials come from: the agent's state folder
// when git runs as the agent's own user (the one-machine mode), or the root agent's socket
// (git-credential-socket.ts) when git runs as WORKSPACE_USER, who cannot read that folder.

/**
 * The `credential.helper` value that runs this agent as the helper. `program` is how to run
 * the agent: its own path when it is the single executable, node + its script otherwise.
 * `source` is the state folder or the credential socket.
 */
export function credentialHelperCommand(program: readonly string[], source: string): string {
  return `!${[...program, "git-credential", source].map(quoteForShell).join(" ")}`;
}

export async function runGitCredentialHelper(
  source: string,
  action: string,
  input: AsyncIterable<Buffer | string> = process.stdin,
): Promise<void> {
  // store and erase: we keep nothing, so there is nothing to do.
  if (action !== "get") return;
  if (await isSocket(source)) return askAgentSocket(source, await readAll(input));
  const stateDir = source;
  const state = await readAgentState(stateDir);
  if (!state) throw new Error("The agent has not bootstrapped yet; no git credentials.");
  const asked = parseCredentialRequest(await readAll(input));
  const request = asked && ownRepositoryRequest(asked, state.bootstrap.workspace.cloneUrl);
  if (!request) return;
  const client = createControlPlaneClient(state.controlPlaneUrl, { attempts: 3 });
  client.useAgentToken(state.bootstrap.agentToken);
  try {
    writeCredential(await client.gitCredential(request));
  } catch (error) {
    // A refusal is git's to report ("could not read Username"); ours goes to its stderr.
    if (!(error instanceof ControlPlaneError && error.status < 500)) throw error;
    process.stderr.write(`No git credentials from the control plane: ${error.message}\n`);
  }
}

function writeCredential(credential: GitCredential): void {
  const expiry = credential.expiresAt
    ? `password_expiry_utc=${Math.floor(Date.parse(credential.expiresAt) / 1000)}\n`
    : "";
  process.stdout.write(
    `protocol=${credential.protocol}\nhost=${credential.host}\nusername=${credential.username}\npassword=${credential.password}\n${expiry}`,
  );
}

const isSocket = (source: string) =>
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- git passes our own configured argument, the state folder or the socket
  stat(source).then(
    (info) => info.isSocket(),
    (error: NodeJS.ErrnoException) => {
      if (error.code !== "EACCES") return false;
      throw new Error(
        `${source}: permission denied; only the workspace user gets git credentials.`,
      );
    },
  );

/** Passes git's request to the root agent, which checks it and asks the control plane. */
async function askAgentSocket(socketPath: string, text: string): Promise<void> {
  const asked = parseCredentialRequest(text);
  if (!asked) return;
  const { status, body } = await postToSocket(socketPath, JSON.stringify(asked));
  if (status === 200) return writeCredential(gitCredentialSchema.parse(JSON.parse(body)));
  const message = (JSON.parse(body) as { message?: string }).message ?? `status ${status}`;
  if (status >= 500) throw new Error(`The agent could not give git credentials: ${message}`);
  process.stderr.write(`No git credentials from the agent: ${message}\n`);
}

function postToSocket(socketPath: string, body: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request(
      { socketPath, method: "POST", path: "/git-credential", timeout: 60_000 },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error("the agent did not answer in 60 s")));
    request.on("error", reject);
    request.setHeader("content-type", "application/json");
    request.end(body);
  });
}

/** git's `key=value` lines; null when protocol, host or path is missing. */
export function parseCredentialRequest(text: string): Partial<GitCredentialRequest> | null {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const index = line.indexOf("=");
    if (index > 0) fields.set(line.slice(0, index), line.slice(index + 1).replace(/\r$/, ""));
  }
  const [protocol, host, path] = ["protocol", "host", "path"].map((key) => fields.get(key));
  if (!protocol || !host || !path) return null;
  return { protocol: protocol as GitCredentialRequest["protocol"], host, path };
}

/** The request, when it is for the workspace's own clone URL; null for anything else. */
export function ownRepositoryRequest(
  asked: Partial<GitCredentialRequest>,
  cloneUrl: string,
): GitCredentialRequest | null {
  const own = new URL(cloneUrl);
  const sameOrigin =
    asked.protocol === own.protocol.slice(0, -1) &&
    asked.host?.toLowerCase() === own.host.toLowerCase();
  const sameRepository =
    asked.path !== undefined &&
    repositoryOfGitPath(asked.path) === repositoryOfGitPath(own.pathname);
  return sameOrigin && sameRepository
    ? { protocol: asked.protocol!, host: asked.host!, path: asked.path! }
    : null;
}

async function readAll(input: AsyncIterable<Buffer | string>): Promise<string> {
  let text = "";
  for await (const chunk of input) {
    text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    // git ends its request with a blank line; it may keep stdin open after that.
    if (/\n\n$|^\n$/.test(text)) break;
    if (text.length > 64 * 1024) break;
  }
  return text;
}

const quoteForShell = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
