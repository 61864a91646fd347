import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { runGit } from "./run-git.ts";
import type { StandInAppOptions } from "./app-switches.ts";
import { startGitHubStandIn, type GitHubStandIn } from "./server.ts";

// Shared by the stand-in's tests: a stand-in on a throwaway data folder, a log capture, and
// the browser's and the application's halves of the OAuth flow.

export type TestStandIn = {
  standIn: GitHubStandIn;
  dataDir: string;
  /** The App's private key (PEM, PKCS#1 like GitHub's) when started with `app`. */
  appPrivateKey: string | undefined;
  /** Everything logged so far, as JSON lines. */
  logs: () => string;
  restart: () => Promise<void>;
  stop: () => Promise<void>;
};

export const redirectUri = "http://127.0.0.1:9/auth/github/callback";

/** A fresh RSA key pair for a test GitHub App: the private key for GITHUB_APP_PRIVATE_KEY. */
export function generateAppKeyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
}

/** `app`: play a GitHub App (its private key is then in `appPrivateKey`). */
export async function startTestStandIn(
  options: { app?: Omit<StandInAppOptions, "publicKey"> } = {},
): Promise<TestStandIn> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "github-stand-in-test-"));
  let text = "";
  const logger = pino({ level: "debug" }, { write: (line: string) => void (text += line) });
  const keys = options.app ? generateAppKeyPair() : undefined;
  const app = keys && { ...options.app, publicKey: keys.publicKey };
  const handle: TestStandIn = {
    standIn: await startGitHubStandIn({ dataDir, logger, app }),
    dataDir,
    appPrivateKey: keys?.privateKey,
    logs: () => text,
    restart: async () => {
      await handle.standIn.close();
      handle.standIn = await startGitHubStandIn({ dataDir, logger, app });
    },
    stop: async () => {
      await handle.standIn.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}

export type AuthorizeOptions = {
  login: string;
  scope?: string;
  state?: string;
  codeChallenge?: string;
  password?: string;
};

/** What the browser does on the sign-in page: posts the form and gets redirected. */
export async function postAuthorizeForm(
  standIn: GitHubStandIn,
  options: AuthorizeOptions,
): Promise<Response> {
  const form = new URLSearchParams({
    client_id: standIn.clientId,
    redirect_uri: redirectUri,
    state: options.state ?? "state-1",
    scope: options.scope ?? "read:user user:email",
    login: options.login,
    password: options.password ?? standInTestPassword,
  });
  if (options.codeChallenge) {
    form.set("code_challenge", options.codeChallenge);
    form.set("code_challenge_method", "S256");
  }
  return fetch(`${standIn.url}/login/oauth/authorize`, {
    method: "POST",
    body: form,
    redirect: "manual",
  });
}

/** The password tests sign stand-in logins in with (the first sign-in of a login sets it). */
export const standInTestPassword = "stand-in-test-password";

export async function authorize(
  standIn: GitHubStandIn,
  options: AuthorizeOptions,
): Promise<string> {
  const response = await postAuthorizeForm(standIn, options);
  const location = new URL(response.headers.get("location") ?? "");
  return location.searchParams.get("code") ?? "";
}

/** What the application does with the code: form body, JSON answer, like arctic. */
export async function exchangeCode(
  standIn: GitHubStandIn,
  fields: Record<string, string>,
): Promise<Record<string, string>> {
  const response = await fetch(`${standIn.url}/login/oauth/access_token`, {
    method: "POST",
    headers: { accept: "application/json" },
    body: new URLSearchParams({
      client_id: standIn.clientId,
      client_secret: standIn.clientSecret,
      ...fields,
    }),
  });
  return (await response.json()) as Record<string, string>;
}

export async function signIn(standIn: GitHubStandIn, login: string): Promise<string> {
  const code = await authorize(standIn, { login });
  return (await exchangeCode(standIn, { code })).access_token ?? "";
}

export function createPkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

export async function getApi(
  standIn: GitHubStandIn,
  apiPath: string,
  token?: string,
): Promise<Response> {
  return fetch(`${standIn.apiUrl}${apiPath}`, {
    headers: token ? { authorization: `token ${token}` } : {},
  });
}

/** Runs git as a client would, with no way to ask anyone for a password. */
export function runClientGit(args: string[], cwd?: string): Promise<string> {
  return runGit(args, {
    cwd,
    env: {
      GIT_ASKPASS: "",
      SSH_ASKPASS: "",
      GIT_AUTHOR_NAME: "Tester",
      GIT_AUTHOR_EMAIL: "tester@example.invalid",
      GIT_COMMITTER_NAME: "Tester",
      GIT_COMMITTER_EMAIL: "tester@example.invalid",
    },
  });
}

export function cloneUrl(standIn: GitHubStandIn, token?: string): string {
  const url = new URL(`${standIn.url}/stand-in/sample.git`);
  if (token) {
    url.username = "x-access-token";
    url.password = token;
  }
  return url.href;
}
