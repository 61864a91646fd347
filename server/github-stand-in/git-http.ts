import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from "node:child_process";
import { childEnvironment } from "../env.ts";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { StandInContext } from "./context.ts";
import { parseBasicAuth } from "./http-io.ts";
import {
  canSeeRepository,
  isPrivateRepository,
  repositoryExists,
  type RepositoryName,
} from "./repos.ts";
import type { StandInUser } from "./store.ts";

// Git's smart HTTP protocol, served by `git http-backend` run as a CGI program: the stand-in
// only authenticates, picks the repository and passes bytes through.

export type GitRoute = RepositoryName & { service: string };

const gitPath = /^\/([^/]+)\/([^/]+)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;
const protocolHeader = /^[A-Za-z0-9=:._-]+$/;

export function matchGitRoute(pathname: string): GitRoute | undefined {
  const match = gitPath.exec(pathname);
  return match?.[1] && match[2] && match[3]
    ? { owner: match[1], name: match[2], service: match[3] }
    : undefined;
}

export async function serveGit(
  context: StandInContext,
  route: GitRoute,
  req: IncomingMessage,
  url: URL,
  res: ServerResponse,
  children: Set<ChildProcess>,
): Promise<void> {
  const caller = await authenticateGit(context, req, route, url);
  if (caller === "denied") {
    // What GitHub says when an installation token may not push there.
    res.writeHead(403, { "content-type": "text/plain" });
    res.end(`Permission to ${route.owner}/${route.name}.git denied to ${botLogin(context)}.\n`);
    return;
  }
  if (!caller) {
    res.writeHead(401, {
      "www-authenticate": 'Basic realm="GitHub"',
      "content-type": "text/plain",
    });
    res.end("Authentication failed: use an access token of the GitHub stand-in as the password.\n");
    return;
  }
  const { user, sees } = caller;
  if (!sees || !(await repositoryExists(context.reposDir, route))) {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("Repository not found.\n");
    return;
  }
  const child = spawn("git", ["http-backend"], {
    // The cast only drops the project-wide NODE_ENV typing: git does not need it.
    env: buildCgiEnvironment(context, route, req, url, user) as NodeJS.ProcessEnv,
  });
  children.add(child);
  child.once("close", () => children.delete(child));
  relayCgi(context, child, req, res);
}

// Any username works, like on GitHub; the token may also be the username with no password.
// A user token reaches what its user sees. An installation token, as on GitHub, reads public
// repositories and its own; it does not see another private one (404), and pushes only to its
// own with contents:write (else 403).
async function authenticateGit(
  context: StandInContext,
  req: IncomingMessage,
  route: GitRoute,
  url: URL,
): Promise<{ user: StandInUser; sees: boolean } | "denied" | undefined> {
  const credentials = parseBasicAuth(req.headers.authorization);
  if (!credentials) return undefined;
  const { store } = context;
  const grant = store.findToken(credentials.password) ?? store.findToken(credentials.username);
  if (grant)
    return { user: grant.user, sees: await canSeeRepository(context.reposDir, route, grant.user) };
  const installation = store.findInstallationToken(credentials.password);
  if (!installation) return undefined;
  const wanted = `${route.owner}/${route.name}`.toLowerCase();
  const pushing =
    route.service === "git-receive-pack" || url.searchParams.get("service") === "git-receive-pack";
  const own = installation.repositories.some((name) => name.toLowerCase() === wanted);
  const user = { login: botLogin(context), id: installation.id, name: botLogin(context) };
  if (!own && (await isPrivateRepository(context.reposDir, route))) return { user, sees: false };
  if (pushing && (!own || installation.contents !== "write")) return "denied";
  return { user, sees: true };
}

const botLogin = (context: StandInContext) => `${context.app?.slug ?? "stand-in-app"}[bot]`;

function buildCgiEnvironment(
  context: StandInContext,
  route: GitRoute,
  req: IncomingMessage,
  url: URL,
  user: StandInUser,
): Record<string, string> {
  // Only what http-backend needs: the server's own environment (and its secrets) stays out.
  const env: Record<string, string> = {
    PATH: childEnvironment({}).PATH ?? "/usr/local/bin:/usr/bin:/bin",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_PROJECT_ROOT: context.reposDir,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: `/${route.owner}/${route.name}.git/${route.service}`,
    REQUEST_METHOD: req.method ?? "GET",
    QUERY_STRING: url.search.slice(1),
    REMOTE_USER: user.login,
    REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
    GIT_COMMITTER_NAME: user.name,
    GIT_COMMITTER_EMAIL: `${user.login}@users.noreply.stand-in.invalid`,
  };
  const headers = req.headers;
  if (headers["content-type"]) env.CONTENT_TYPE = headers["content-type"];
  if (headers["content-length"]) env.CONTENT_LENGTH = headers["content-length"];
  if (typeof headers["content-encoding"] === "string") {
    env.HTTP_CONTENT_ENCODING = headers["content-encoding"];
  }
  // Protocol v2 is negotiated through this header; upload-pack reads it as GIT_PROTOCOL.
  const protocol = headers["git-protocol"];
  if (typeof protocol === "string" && protocolHeader.test(protocol)) {
    env.HTTP_GIT_PROTOCOL = protocol;
    env.GIT_PROTOCOL = protocol;
  }
  return env;
}

function relayCgi(
  context: StandInContext,
  child: ChildProcessWithoutNullStreams,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  let stderr = "";
  child.stderr.on(
    "data",
    (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4000)),
  );
  // The backend may exit before reading all input (it refused the request); that is not ours
  // to report.
  child.stdin.on("error", () => {});
  req.pipe(child.stdin);
  res.once("close", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  child.once("error", (error) => {
    context.logger.error({ err: error }, "cannot run git http-backend");
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    if (!res.writableEnded) res.end("git http-backend could not be started\n");
  });
  child.once("close", (code) => {
    if (code !== 0 && code !== null) {
      context.logger.warn({ code, stderr: stderr.trim() }, "git http-backend failed");
    }
  });
  relayCgiOutput(child.stdout, res);
}

function relayCgiOutput(stdout: NodeJS.ReadableStream, res: ServerResponse): void {
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = findHeaderEnd(head);
    if (!end) return;
    stdout.removeListener("data", onData);
    stdout.removeListener("end", onEnd);
    stdout.pause();
    const { status, headers } = parseCgiHeaders(head.subarray(0, end.start).toString("latin1"));
    res.writeHead(status, headers.flat());
    stdout.unshift(head.subarray(end.bodyStart));
    stdout.pipe(res);
  };
  const onEnd = () => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    if (!res.writableEnded) res.end("git http-backend ended without an answer\n");
  };
  stdout.on("data", onData);
  stdout.once("end", onEnd);
}

function findHeaderEnd(buffer: Buffer): { start: number; bodyStart: number } | undefined {
  const crlf = buffer.indexOf("\r\n\r\n");
  const lf = buffer.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { start: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { start: lf, bodyStart: lf + 2 };
  return undefined;
}

/** The CGI header block: an optional `Status: 404 Not Found` line and ordinary headers. */
export function parseCgiHeaders(block: string): { status: number; headers: [string, string][] } {
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number.parseInt(value, 10) || 200;
    else headers.push([name, value]);
  }
  return { status, headers };
}
