import { initTRPC, TRPCError } from "@trpc/server";
import { createHTTPServer } from "@trpc/server/adapters/standalone";
import type { AddressInfo } from "node:net";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createClient, createWorkspace, waitForWorkspace } from "./index.ts";

// The SDK on its own: option checks, and the wire (URL, bearer header, superjson) against a
// stand-in of our API on loopback that answers workspaces.get from a script of states.

const token = "caw_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
const valid = { baseUrl: "http://localhost:3000", token };

describe("createClient option checks", () => {
  it.each([
    ["a baseUrl that is no URL", { baseUrl: "localhost:3000" }, /baseUrl uses localhost:/],
    ["a relative baseUrl", { baseUrl: "/api" }, /baseUrl is not a URL/],
    ["an empty baseUrl", { baseUrl: "" }, /baseUrl is not a URL/],
    ["an ftp baseUrl", { baseUrl: "ftp://example.com" }, /baseUrl uses ftp:.*http or https/],
    ["a baseUrl with a password", { baseUrl: "https://me:pw@example.com" }, /user, password/],
    ["a baseUrl with a query", { baseUrl: "https://example.com/?token=x" }, /query/],
    ["a token without caw_", { token: "ghp_abcdef" }, /Settings → API tokens.*caw_/],
    ["an empty token", { token: "" }, /token is not an API token/],
    ["a token with a line break", { token: `${token}\n` }, /line break/],
    ["a token with a space", { token: `caw_abc def` }, /line break/],
  ])("refuses %s with a clear error", (_case, change, message) => {
    expect(() => createClient({ ...valid, ...change })).toThrow(message);
  });

  it("never echoes the token it refuses", () => {
    const secret = "caw_secret value";
    expect(() => createClient({ ...valid, token: secret })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("secret") }),
    );
  });

  it("accepts http and https base URLs, with or without a path", () => {
    for (const baseUrl of ["http://localhost:3000", "https://caw.example.com/", "https://x.io/caw"])
      expect(() => createClient({ ...valid, baseUrl })).not.toThrow();
  });
});

type Scripted = { states: string[]; reason?: string };
const scripts = new Map<string, Scripted>();
const seen: { url: string; authorization: string | undefined }[] = [];

const t = initTRPC.context<object>().create({ transformer: superjson });
// create answers 503 (Retry-After: 1) while `outages` is above zero, then makes one workspace
// per key, as the control plane does.
let outages = 0;
const createdKeys: string[] = [];
const sentKeys: (string | undefined)[] = [];
const standIn = t.router({
  workspaces: t.router({
    create: t.procedure
      .input(z.object({ name: z.string(), idempotencyKey: z.string().optional() }))
      .mutation(({ input }) => {
        sentKeys.push(input.idempotencyKey);
        if (outages-- > 0)
          throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "database away" });
        if (!createdKeys.includes(input.idempotencyKey!)) createdKeys.push(input.idempotencyKey!);
        return { id: input.idempotencyKey!, name: input.name, state: "provisioning" };
      }),
    get: t.procedure.input(z.object({ id: z.string() })).query(({ input }) => {
      const script = scripts.get(input.id);
      const state = script?.states.length === 1 ? script.states[0] : script?.states.shift();
      if (!script || state === "gone")
        throw new TRPCError({ code: "NOT_FOUND", message: "No workspace of yours with that id." });
      const stateReason = state === "error" ? (script.reason ?? null) : null;
      return { id: input.id, name: input.id, state, stateReason, createdAt: new Date(0) };
    }),
  }),
});
const server = createHTTPServer({
  basePath: "/base/api/trpc/",
  router: standIn,
  responseMeta: ({ errors }) =>
    errors.length ? { headers: new Headers({ "retry-after": "1" }) } : {},
  createContext: ({ req }) => {
    seen.push({ url: req.url ?? "", authorization: req.headers.authorization });
    return {};
  },
});
let baseUrl: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/base`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const fast = { intervalMs: 5, timeoutMs: 5_000 };

describe("the client on the wire", () => {
  it("calls baseUrl/api/trpc with the bearer token, superjson and the given fetch", async () => {
    scripts.set("wire", { states: ["running"] });
    const fetched: string[] = [];
    const client = createClient({
      baseUrl: `${baseUrl}/`,
      token,
      fetch: (input, init) => {
        fetched.push(String(input));
        return fetch(input, init);
      },
    });
    const workspace = await client.workspaces.get.query({ id: "wire" });
    expect(workspace.createdAt).toBeInstanceOf(Date); // superjson, not plain JSON
    expect(fetched).toHaveLength(1);
    expect(fetched[0]).toMatch(new RegExp(`^${baseUrl}/api/trpc/workspaces\\.get\\?`));
    expect(seen.at(-1)?.authorization).toBe(`Bearer ${token}`);
  });
});

describe("waitForWorkspace", () => {
  const client = () => createClient({ baseUrl, token });

  it("polls until the workspace is in the state asked for and answers it", async () => {
    scripts.set("boots", { states: ["pending", "provisioning", "booting", "running"] });
    const workspace = await waitForWorkspace(client(), "boots", "running", fast);
    expect(workspace).toMatchObject({ id: "boots", state: "running" });
  });

  it("throws with the stateReason when the workspace lands in error", async () => {
    scripts.set("breaks", { states: ["provisioning", "error"], reason: "Hetzner said no" });
    await expect(waitForWorkspace(client(), "breaks", "running", fast)).rejects.toThrow(
      'Workspace "breaks" failed instead of becoming running: Hetzner said no',
    );
  });

  it("answers null once a deleted workspace is gone from the API", async () => {
    scripts.set("leaves", { states: ["deleting", "gone"] });
    await expect(waitForWorkspace(client(), "leaves", "deleted", fast)).resolves.toBeNull();
  });

  it("passes NOT_FOUND on when waiting for anything but deleted", async () => {
    await expect(waitForWorkspace(client(), "unknown", "running", fast)).rejects.toThrow(
      "No workspace of yours",
    );
  });

  it("gives up after timeoutMs, saying where the workspace is stuck", async () => {
    scripts.set("stuck", { states: ["booting"] });
    await expect(
      waitForWorkspace(client(), "stuck", "running", { intervalMs: 5, timeoutMs: 20 }),
    ).rejects.toThrow('Workspace "stuck" is still booting, not running, after 20 ms.');
  });
});

describe("createWorkspace", () => {
  const client = () => createClient({ baseUrl, token });
  const input = { name: "retried", repository: "stand-in/sample", branch: "main" };

  it("retries a 503 with the same idempotency key, and the server makes one workspace", async () => {
    createdKeys.length = 0;
    outages = 2;
    const workspace = await createWorkspace(client(), input);
    expect(createdKeys).toEqual([workspace.id]);
    expect(sentKeys.slice(-3)).toEqual([workspace.id, workspace.id, workspace.id]);
  });

  it("keeps a key the caller chose, and gives up after its attempts with the 503", async () => {
    createdKeys.length = 0;
    outages = 5;
    await expect(
      createWorkspace(client(), { ...input, idempotencyKey: "mine" }, { attempts: 2 }),
    ).rejects.toMatchObject({ data: { code: "SERVICE_UNAVAILABLE" } });
    outages = 0;
    expect((await createWorkspace(client(), { ...input, idempotencyKey: "mine" })).id).toBe("mine");
    expect(createdKeys).toEqual(["mine"]);
  });
});
