import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, workspaces } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createApiToken } from "../services/api-tokens.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { signInOverHttp } from "../testing/test-sign-in.ts";
import { createTestUser } from "../testing/test-users.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";

// SPEC §14: /mcp with the official MCP client against our real web server (the Remix build):
// API tokens only, every tool listed and audited, destructive tools confirmed by name.

let database: TestDatabase;
let context: AppLoadContextValue;
let web: TestWebServer;
let alice: AuthenticatedUser;
let token: string;
const clients: Client[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  web = await startTestWebServer(context);
  alice = await createTestUser(context, "alice");
  const owner = { userId: alice.id, auditSubject: alice.auditSubject };
  ({ token } = await createApiToken(database.db, owner, { name: "mcp" }, { limit: 20 }));
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await web?.close();
  await database?.drop();
});

async function connect(headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: "test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${web.baseUrl}/mcp`), {
    requestInit: { headers },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const textOf = (result: Awaited<ReturnType<Client["callTool"]>>) =>
  (result.content as Array<{ type: string; text: string }>).map((part) => part.text).join("");

async function insertStoppedWorkspace(name: string) {
  const [row] = await database.db
    .insert(workspaces)
    .values({
      userId: alice.id,
      name,
      repository: "stand-in/sample",
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
      state: "stopped",
    })
    .returning();
  return row!;
}

describe("/mcp", () => {
  it("lists the workspace, session and secret tools to an API token", async () => {
    const client = await connect({ authorization: `Bearer ${token}` });
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(
      [
        "create_session",
        "create_workspace",
        "delete_secret",
        "delete_workspace",
        "end_session",
        "get_workspace",
        "list_secrets",
        "list_sessions",
        "list_workspaces",
        "read_job_log",
        "read_output",
        "send_input",
        "set_secret",
        "start_workspace",
        "stop_workspace",
      ].sort(),
    );
    const remove = tools.find((tool) => tool.name === "delete_workspace")!;
    expect(remove.annotations?.destructiveHint).toBe(true);
    expect(remove.inputSchema.required).toEqual(["workspace_id", "confirm_name"]);
  });

  it("refuses callers without a live API token, browsers' cookies included", async () => {
    const cookie = await signInOverHttp(web.baseUrl, "cookie-user");
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: "Bearer cawt_not-a-token" },
      // With the site's own Origin, so the cross-site guard lets it through to /mcp's own check.
      { cookie, origin: new URL(context.env.PUBLIC_URL).origin },
    ];
    for (const headers of attempts) {
      const response = await fetch(`${web.baseUrl}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
      const { error } = (await response.json()) as { error: { message: string } };
      expect(error.message).toMatch(/API token/);
    }
  });

  it("deletes a workspace only when confirm_name is its name, and audits each call", async () => {
    const client = await connect({ authorization: `Bearer ${token}` });
    const workspace = await insertStoppedWorkspace("precious");
    const wrong = await client.callTool({
      name: "delete_workspace",
      arguments: { workspace_id: workspace.id, confirm_name: "other" },
    });
    expect(wrong.isError).toBe(true);
    expect(textOf(wrong)).toContain("is not the name of workspace");
    const [kept] = await database.db
      .select()
      .from(workspaces)
      .where(eq(workspaces.id, workspace.id));
    expect(kept!.state).toBe("stopped");

    const right = await client.callTool({
      name: "delete_workspace",
      arguments: { workspace_id: workspace.id, confirm_name: "precious" },
    });
    expect(right.isError ?? false).toBe(false);
    expect(JSON.parse(textOf(right))).toMatchObject({ name: "precious", state: "deleting" });

    const audit = await database.db
      .select({ action: auditLog.action, targetId: auditLog.targetId, details: auditLog.details })
      .from(auditLog)
      .where(eq(auditLog.action, "mcp.tool"));
    expect(audit.filter((row) => row.targetId === workspace.id).map((row) => row.details)).toEqual([
      { tool: "delete_workspace", ok: false },
      { tool: "delete_workspace", ok: true },
    ]);
  });

  it("answers a bad argument and a refused action with the API's message", async () => {
    const client = await connect({ authorization: `Bearer ${token}` });
    const stopped = await insertStoppedWorkspace("resting");
    const output = await client.callTool({
      name: "read_output",
      arguments: { workspace_id: stopped.id, session: "shell-1" },
    });
    expect(output.isError).toBe(true);
    expect(textOf(output)).toContain("is stopped; its sessions can be used once it is running");
    const bad = await client.callTool({
      name: "get_workspace",
      arguments: { workspace_id: "nope" },
    });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toContain("expected a workspace id from list_workspaces");
  });

  it("sets a secret without its value reaching the audit log", async () => {
    const client = await connect({ authorization: `Bearer ${token}` });
    const value = `marker-${randomBytes(12).toString("hex")}`;
    const set = await client.callTool({
      name: "set_secret",
      arguments: { name: "MCP_TEST_KEY", value },
    });
    expect(set.isError ?? false).toBe(false);
    expect(textOf(set)).not.toContain(value);
    const listed = await client.callTool({ name: "list_secrets", arguments: {} });
    expect(textOf(listed)).toContain("MCP_TEST_KEY");
    expect(textOf(listed)).not.toContain(value);
    const audit = await database.db.select().from(auditLog);
    expect(JSON.stringify(audit)).not.toContain(value);
  });
});
