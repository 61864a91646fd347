import { createTRPCClient, httpLink, TRPCClientError, type TRPCClient } from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import superjson from "superjson";
// Type-only: the SDK carries the API's types, never server code (which would need a database).
import type { AppRouter } from "../server/trpc/root.ts";

// The typed SDK for scripts and AI agents: the same tRPC API the web app uses, authenticated
// with a personal API token instead of the session cookie.

export type { AppRouter };
export type Client = TRPCClient<AppRouter>;
export type Workspace = inferRouterOutputs<AppRouter>["workspaces"]["get"];
export type WorkspaceState = Workspace["state"];

export type ClientOptions = {
  /** Where the control plane answers, e.g. `http://localhost:3000` or `https://caw.example.com`. */
  baseUrl: string;
  /** A personal API token (Settings → API tokens), `caw_…`. */
  token: string;
  /** Another fetch (a proxy, a test double); the global fetch otherwise. */
  fetch?: typeof fetch;
};

/** A client of the whole API; throws at once when `baseUrl` or `token` cannot be right. */
export function createClient(options: ClientOptions): Client {
  const baseUrl = parseBaseUrl(options.baseUrl);
  assertApiToken(options.token);
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${baseUrl}/api/trpc`,
        transformer: superjson,
        headers: { authorization: `Bearer ${options.token}` },
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    ],
  });
}

function parseBaseUrl(value: unknown): string {
  const expected = "expected the control plane's URL, such as http://localhost:3000";
  // The value is not echoed: a URL pasted by mistake may carry a secret.
  if (typeof value !== "string" || !URL.canParse(value))
    throw new Error(`createClient: baseUrl is not a URL; ${expected}.`);
  const url = new URL(value);
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`createClient: baseUrl uses ${url.protocol}; ${expected} (http or https).`);
  if (url.username || url.password || url.search || url.hash)
    throw new Error(
      `createClient: baseUrl has a user, password, query or fragment; ${expected}. Pass the token as token.`,
    );
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

function assertApiToken(value: unknown): void {
  // The value is never echoed: it is a secret even when it is the wrong one.
  if (typeof value !== "string" || !value.startsWith("caw_"))
    throw new Error(
      "createClient: token is not an API token; create one under Settings → API tokens (it starts with caw_).",
    );
  if (!/^caw_[\w-]+$/.test(value))
    throw new Error(
      "createClient: token has characters an API token never has (a space or line break?); copy it again from Settings → API tokens.",
    );
}

export type CreateWorkspaceInput = inferRouterInputs<AppRouter>["workspaces"]["create"];

export type RetryOptions = {
  /** Tries in all (default 5); the waits between them follow the server's Retry-After. */
  attempts?: number;
};

/**
 * `workspaces.create` that is safe to retry: it sends an idempotency key (a fresh UUID unless
 * `input.idempotencyKey` names one), and retries with the same key while the control plane
 * answers 503 (its database restarting) or the answer is lost on the way. However many tries
 * it takes, the server makes at most one workspace, and this answers it.
 */
export async function createWorkspace(
  client: Client,
  input: CreateWorkspaceInput,
  { attempts = 5 }: RetryOptions = {},
): Promise<Workspace> {
  const keyed = { ...input, idempotencyKey: input.idempotencyKey ?? crypto.randomUUID() };
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.workspaces.create.mutate(keyed);
    } catch (error) {
      const wait = retryWaitMs(error, attempt);
      if (wait === undefined || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** How long to wait before trying again, or undefined when a retry cannot help. */
function retryWaitMs(error: unknown, attempt: number): number | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data = error.data as { code?: string } | undefined;
  // No data: the request or its answer was lost (a cut connection), not refused.
  if (data && data.code !== "SERVICE_UNAVAILABLE") return undefined;
  const response = (error.meta as { response?: Response } | undefined)?.response;
  const seconds = Number(response?.headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 500 * attempt;
}

export type WaitOptions = {
  /** Give up after this long (default 10 minutes: a cloud server can take a few to boot). */
  timeoutMs?: number;
  /** How often to ask (default 1 second). */
  intervalMs?: number;
};

/**
 * Polls `workspaces.get` until the workspace is in `state` and answers it. Throws with the
 * workspace's `stateReason` if it lands in `error` instead, and when `timeoutMs` passes.
 * Waiting for `deleted` ends when the workspace is gone from the API, and answers null.
 */
export async function waitForWorkspace(
  client: Client,
  id: string,
  state: "deleted",
  options?: WaitOptions,
): Promise<null>;
export async function waitForWorkspace(
  client: Client,
  id: string,
  state: Exclude<WorkspaceState, "deleted">,
  options?: WaitOptions,
): Promise<Workspace>;
export async function waitForWorkspace(
  client: Client,
  id: string,
  state: WorkspaceState,
  { timeoutMs = 600_000, intervalMs = 1_000 }: WaitOptions = {},
): Promise<Workspace | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const workspace = await client.workspaces.get.query({ id }).catch((error: unknown) => {
      // A deleted workspace is no longer listed: that is the end state asked for.
      if (state === "deleted" && isNotFound(error)) return null;
      throw error;
    });
    if (!workspace) return null;
    if (workspace.state === state) return workspace;
    if (workspace.state === "error")
      throw new Error(
        `Workspace "${workspace.name}" failed instead of becoming ${state}: ${workspace.stateReason ?? "no reason recorded"}`,
      );
    if (Date.now() >= deadline)
      throw new Error(
        `Workspace "${workspace.name}" is still ${workspace.state}, not ${state}, after ${timeoutMs} ms.`,
      );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof TRPCClientError &&
    (error.data as { code?: string } | undefined)?.code === "NOT_FOUND"
  );
}
