/* eslint-disable security/detect-non-literal-fs-filename -- the stand-in's folder is DATA_DIR/github */
import type { ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Logger } from "../logger.ts";
import { handleApiRequest } from "./api.ts";
import type { StandInContext } from "./context.ts";
import { matchGitRoute, serveGit } from "./git-http.ts";
import { BodyTooLargeError, sendJson, sendNotFound } from "./http-io.ts";
import { exchangeCode, showAuthorizePage, submitAuthorizeForm } from "./oauth.ts";
import { seedRepositories } from "./seed.ts";
import {
  createStandInApp,
  createSwitches,
  type StandInAppOptions,
  type StandInSwitches,
} from "./app-switches.ts";
import { createRateLimits } from "./rate-limits.ts";
import { openStandInStore } from "./store.ts";

// A stand-in for the parts of GitHub the control plane uses (OAuth web flow, a few REST
// endpoints, git over HTTP), for `npm start` without GitHub credentials and for tests.

export type GitHubStandIn = {
  /** Web base, e.g. http://127.0.0.1:41234 (GITHUB_URL). */
  url: string;
  /** `${url}/api/v3`, laid out like GitHub Enterprise Server (GITHUB_API_URL). */
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  /** Set when started with `app`: the GitHub App it plays (GITHUB_APP_ID, the install URL). */
  app?: { id: number; slug: string };
  /** Test switches for the App mode and permissions (see app-switches.ts). */
  switches: StandInSwitches;
  /** Renames a user (same id, same tokens): lets tests play a GitHub login changing hands. */
  renameUser: (login: string, newLogin: string) => Promise<void>;
  /** Where its bare repositories live ({owner}/{name}.git): tests add repositories there. */
  reposDir: string;
  close: () => Promise<void>;
};

// A one-pixel grey PNG: enough for an <img> to load without a network round trip to GitHub.
const avatarPng = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

export async function startGitHubStandIn(options: {
  dataDir: string;
  logger: Logger;
  port?: number;
  /** Play a GitHub App whose private key belongs to this public key (PEM). */
  app?: StandInAppOptions;
}): Promise<GitHubStandIn> {
  const { logger } = options;
  const githubDir = path.join(options.dataDir, "github");
  const reposDir = path.join(githubDir, "repos");
  const store = await openStandInStore(githubDir);
  await mkdir(reposDir, { recursive: true });
  if (await seedRepositories(reposDir))
    logger.info({ reposDir }, "GitHub stand-in seeded the sample repository");

  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const context: StandInContext = {
    url,
    apiUrl: `${url}/api/v3`,
    reposDir,
    store,
    logger,
    readOnly: new Set(),
    rateLimits: createRateLimits(),
    app: options.app && createStandInApp(options.app),
  };
  const children = new Set<ChildProcess>();
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    void handleRequest(context, req, res, children);
  });
  logger.warn(
    { url, apiUrl: context.apiUrl, clientId: store.client.id },
    `This is a development GitHub stand-in at ${url}, NOT real GitHub: any login signs in without a password`,
  );

  return {
    url,
    apiUrl: context.apiUrl,
    clientId: store.client.id,
    clientSecret: store.client.secret,
    ...(context.app ? { app: { id: context.app.id, slug: context.app.slug } } : {}),
    switches: createSwitches(context),
    renameUser: async (login, newLogin) => void (await store.renameUser(login, newLogin)),
    reposDir,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const child of children) child.kill();
      await closed;
      await store.flush();
    },
  };
}

async function handleRequest(
  context: StandInContext,
  req: IncomingMessage,
  res: ServerResponse,
  children: Set<ChildProcess>,
): Promise<void> {
  const raw = req.url ?? "/";
  // Prefixing keeps a path like "//host/x" a path instead of a protocol-relative URL.
  const url = new URL(raw.startsWith("/") ? `${context.url}${raw}` : `${context.url}/`);
  // Paths only: query strings carry codes and states.
  context.logger.debug({ method: req.method, path: url.pathname }, "GitHub stand-in request");
  try {
    await routeRequest(context, req, url, res, children);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      if (!res.headersSent) sendJson(res, 413, { message: error.message });
      return;
    }
    context.logger.error({ err: error, path: url.pathname }, "GitHub stand-in request failed");
    if (!res.headersSent) sendJson(res, 500, { message: "Server Error" });
    else res.destroy();
  }
}

async function routeRequest(
  context: StandInContext,
  req: IncomingMessage,
  url: URL,
  res: ServerResponse,
  children: Set<ChildProcess>,
): Promise<void> {
  const { pathname } = url;
  const method = req.method ?? "GET";
  if (pathname === "/api/v3" || pathname.startsWith("/api/v3/")) {
    return handleApiRequest(context, req, url, res);
  }
  if (pathname === "/login/oauth/authorize" && method === "GET") {
    return showAuthorizePage(context, url, res);
  }
  if (pathname === "/login/oauth/authorize" && method === "POST") {
    return submitAuthorizeForm(context, req, res);
  }
  if (pathname === "/login/oauth/access_token" && method === "POST") {
    return exchangeCode(context, req, res);
  }
  const avatar = /^\/avatars\/([^/]+)\.png$/.exec(pathname);
  if (avatar?.[1] && method === "GET" && context.store.findUser(avatar[1])) {
    res.writeHead(200, { "content-type": "image/png", "cache-control": "max-age=3600" });
    res.end(avatarPng);
    return;
  }
  const gitRoute = matchGitRoute(pathname);
  if (gitRoute) return serveGit(context, gitRoute, req, url, res, children);
  sendNotFound(res);
}
