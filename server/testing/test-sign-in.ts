import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { Env } from "../env.ts";
import { startGitHubStandIn, type GitHubStandIn } from "../github-stand-in/server.ts";
import { createLogger } from "../logger.ts";
import { createTestLoadContext } from "./test-context.ts";
import { createTestDatabase, type TestDatabase } from "./test-database.ts";
import { standInSettings } from "./test-github.ts";
import { startTestWebServer } from "./test-web-server.ts";
import { standInTestPassword } from "../github-stand-in/test-helpers.ts";

// Browser-less sign-in over real HTTP: our web server (the Remix build) and a GitHub stand-in of
// its own on loopback, driven by fetch. The web server's log lines are kept for assertions.

export type SignInHarness = Awaited<ReturnType<typeof startSignInHarness>>;

const publicUrl = "http://127.0.0.1";

export async function startSignInHarness(overrides: Partial<Env> = {}) {
  const database: TestDatabase = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-sign-in-"));
  const silent = createLogger({ level: "silent", service: "github-stand-in" });
  const standIn: GitHubStandIn = await startGitHubStandIn({ dataDir, logger: silent });
  const logLines: string[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const base = await createTestLoadContext(database, overrides);
  const context = {
    ...base,
    env: { ...base.env, PUBLIC_URL: publicUrl },
    github: standInSettings(standIn),
  };
  const web = await startTestWebServer(
    context,
    createLogger({ level: "info", service: "web", destination: capture }),
  );

  /** Signs `login` in through the stand-in; returns the `caw_session=…` cookie pair. */
  const signIn = (login: string) => signInOverHttp(web.baseUrl, login);

  /** A tRPC query over HTTP with the given headers; answers status and parsed body. */
  async function query(procedure: string, headers: Record<string, string>) {
    const response = await fetch(`${web.baseUrl}/api/trpc/${procedure}`, { headers });
    return { status: response.status, body: (await response.json()) as unknown, response };
  }

  /** A tRPC mutation from our own origin (passes the CSRF check). */
  async function mutate(procedure: string, headers: Record<string, string>, input?: unknown) {
    const response = await fetch(`${web.baseUrl}/api/trpc/${procedure}`, {
      method: "POST",
      headers: { ...headers, origin: publicUrl, "content-type": "application/json" },
      body: JSON.stringify({ json: input ?? null }),
    });
    return { status: response.status, body: (await response.json()) as unknown, response };
  }

  return {
    database,
    standIn,
    context,
    baseUrl: web.baseUrl,
    logLines,
    signIn,
    query,
    mutate,
    close: async () => {
      await web.close();
      await standIn.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * What a browser does to sign in, done with fetch: start at our `/auth/github`, answer the
 * GitHub stand-in's form it redirects to, follow back with the flow cookies. Returns the
 * `caw_session=…` cookie pair.
 */
export async function signInOverHttp(webBaseUrl: string, login: string): Promise<string> {
  const start = await fetch(`${webBaseUrl}/auth/github`, { redirect: "manual" });
  const authorizeUrl = new URL(start.headers.get("location")!);
  const form = new URLSearchParams(authorizeUrl.searchParams);
  form.set("login", login);
  form.set("password", standInTestPassword);
  const granted = await fetch(`${authorizeUrl.origin}${authorizeUrl.pathname}`, {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  const callback = new URL(granted.headers.get("location")!);
  const done = await fetch(`${webBaseUrl}${callback.pathname}${callback.search}`, {
    headers: { cookie: cookiePairs(start).join("; ") },
    redirect: "manual",
  });
  const session = cookiePairs(done).find((pair) => /^caw_session=./.test(pair));
  if (!session) throw new Error(`signing ${login} in set no session cookie (${done.status})`);
  return session;
}

/** The `name=value` pairs of a response's Set-Cookie headers. */
export const cookiePairs = (response: Response) =>
  response.headers.getSetCookie().map((cookie) => cookie.split(";")[0]!);

/** The data of a tRPC answer (superjson's `json` envelope). */
export const dataOf = <T>(body: unknown) =>
  (body as { result: { data: { json: T } } }).result.data.json;
