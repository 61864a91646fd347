import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog } from "../db/schema.ts";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { dataOf, signInOverHttp } from "../server/testing/test-sign-in.ts";
import { startApp, type RunningApp } from "./support/app.ts";

// SPEC §14 acceptance: the official MCP client creates a workspace, runs `echo hi` in a session
// and reads `hi` back, through /mcp only, against the one-machine app (launcher, web, worker and
// the built agent with its tmux sessions).

let app: RunningApp;
let client: Client;
let workspace: { id: string; name: string } | undefined;

type CallResult = Awaited<ReturnType<Client["callTool"]>>;
const textOf = (result: CallResult) =>
  (result.content as Array<{ type: string; text: string }>).map((part) => part.text).join("");

/** Calls a tool that must succeed; its answer's text, parsed as JSON when it is JSON. */
async function call<T = unknown>(name: string, args: Record<string, unknown> = {}): Promise<T> {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) throw new Error(`${name} failed: ${textOf(result)}`);
  const text = textOf(result);
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
}

/** Calls `name` every 250 ms until `done` holds for its answer; the last answer on timeout. */
async function pollTool<T>(
  name: string,
  args: Record<string, unknown>,
  done: (answer: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await call<T>(name, args);
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Polls get_workspace until it answers that the workspace is no more (deleted). */
async function waitUntilGone(id: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await client.callTool({
      name: "get_workspace",
      arguments: { workspace_id: id },
    });
    if (result.isError && textOf(result).startsWith("No workspace of yours")) return;
    if (Date.now() > deadline) throw new Error(`still there: ${textOf(result)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** An API token of a user who signed in through the app's GitHub stand-in. */
async function createApiToken(login: string): Promise<string> {
  const cookie = await signInOverHttp(app.baseUrl, login);
  const created = await fetch(`${app.baseUrl}/api/trpc/tokens.create`, {
    method: "POST",
    headers: { cookie, origin: app.baseUrl, "content-type": "application/json" },
    body: JSON.stringify({ json: { name: "mcp e2e" } }),
  });
  return dataOf<{ token: string }>(await created.json()).token;
}

beforeAll(async () => {
  app = await startApp();
  const token = await createApiToken("mcp-user");
  client = new Client({ name: "mcp-e2e", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${app.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
});
afterAll(async () => {
  // Only when a test failed half-way: the workspace was created but not deleted.
  if (workspace)
    await client
      .callTool({
        name: "delete_workspace",
        arguments: { workspace_id: workspace.id, confirm_name: workspace.name },
      })
      .catch(() => {});
  await client?.close();
  await app?.stop();
});

describe("the MCP endpoint with the official client", () => {
  it("creates a workspace, runs `echo hi` in a session and reads `hi` back", async () => {
    const created = await call<{ id: string; name: string }>("create_workspace", {
      name: "mcp-demo",
      repository: `${sampleRepository.owner}/${sampleRepository.name}`,
      branch: "main",
    });
    workspace = created;
    const ids = { workspace_id: created.id };
    const ready = await pollTool<{ state: string }>(
      "get_workspace",
      ids,
      (answer) => answer.state === "running" || answer.state === "error",
      100_000,
    );
    if (ready.state !== "running")
      throw new Error(`not running: ${JSON.stringify(ready)}\n${await call("read_job_log", ids)}`);

    const session = await call<{ name: string }>("create_session", ids);
    const inSession = { ...ids, session: session.name };
    await call("send_input", { ...inSession, text: "echo hi" });
    const output = await pollTool<string>(
      "read_output",
      { ...inSession, lines: 20 },
      (text) => text.split("\n").some((line) => line.trim() === "hi"),
      20_000,
    );
    expect(output.split("\n").map((line) => line.trim())).toContain("hi");
    const sessions = await call<Array<{ name: string }>>("list_sessions", ids);
    expect(sessions.map((listed) => listed.name)).toContain(session.name);

    await call("end_session", { ...inSession, confirm_name: "mcp-demo" });
    const deleted = await call<{ state: string }>("delete_workspace", {
      ...ids,
      confirm_name: "mcp-demo",
    });
    expect(deleted.state).toBe("deleting");
    await waitUntilGone(created.id);
    workspace = undefined;

    const audited = await app.database.db
      .select({ details: auditLog.details, targetId: auditLog.targetId })
      .from(auditLog)
      .where(eq(auditLog.action, "mcp.tool"));
    const tools = new Set(audited.map((row) => (row.details as { tool: string }).tool));
    for (const tool of ["create_workspace", "create_session", "send_input", "read_output"])
      expect(tools).toContain(tool);
    expect(audited.every((row) => row.targetId === created.id)).toBe(true);
  }, 180_000);
});
