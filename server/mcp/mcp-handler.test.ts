import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, workspaces } from "../../db/schema.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startMcpHarness, textOf, type McpHarness } from "./mcp-test-kit.ts";

// SPEC §14: /mcp with the official MCP client against our real web server: every tool listed,
// every call audited (never a secret's value), destructive tools confirmed by name, failures
// answered as tool errors with the API's message.

let database: TestDatabase;
let mcp: McpHarness;

beforeAll(async () => {
  database = await createTestDatabase();
  mcp = await startMcpHarness(database, "alice");
});
afterAll(async () => {
  await mcp?.close();
  await database?.drop();
});

const auditOf = (tool: string) =>
  database.db
    .select({ targetId: auditLog.targetId, details: auditLog.details })
    .from(auditLog)
    .where(eq(auditLog.action, "mcp.tool"))
    .then((rows) => rows.filter((row) => (row.details as { tool?: string }).tool === tool));

describe("/mcp tools", () => {
  it("lists the workspace, session and secret tools, destructive ones marked", async () => {
    const client = await mcp.connect();
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
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const name of ["delete_workspace", "end_session"]) {
      expect(byName.get(name)!.annotations?.destructiveHint).toBe(true);
      expect(byName.get(name)!.inputSchema.required).toContain("confirm_name");
    }
    expect(byName.get("read_output")!.inputSchema.properties!.lines).toMatchObject({
      maximum: 500,
      default: 100,
    });
  });

  it("deletes a workspace only when confirm_name is its name, and audits each call", async () => {
    const client = await mcp.connect();
    const workspace = await mcp.insertWorkspace({ name: "precious" });
    const wrong = await client.callTool({
      name: "delete_workspace",
      arguments: { workspace_id: workspace.id, confirm_name: "other" },
    });
    expect(wrong.isError).toBe(true);
    expect(textOf(wrong)).toContain("is not the name of workspace");
    expect(textOf(wrong)).toContain("nothing was changed");
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
    expect(await auditOf("delete_workspace")).toEqual([
      { targetId: workspace.id, details: { tool: "delete_workspace", ok: false } },
      { targetId: workspace.id, details: { tool: "delete_workspace", ok: true } },
    ]);
  });

  it("answers the API's message as a tool error, and audits calls the SDK refused", async () => {
    const client = await mcp.connect();
    const stopped = await mcp.insertWorkspace({ name: "resting" });
    const output = await client.callTool({
      name: "read_output",
      arguments: { workspace_id: stopped.id, session: "shell-1" },
    });
    expect(output.isError).toBe(true);
    expect(textOf(output)).toContain("is stopped; its sessions can be used once it is running");

    const bad = await client.callTool({ name: "get_workspace", arguments: { workspace_id: "x" } });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toContain("expected a workspace id from list_workspaces");
    const unknown = await client.callTool({ name: "format_disk", arguments: {} });
    expect(unknown.isError).toBe(true);
    expect(await auditOf("get_workspace")).toEqual([
      { targetId: null, details: { tool: "get_workspace", ok: false } },
    ]);
    expect(await auditOf("format_disk")).toHaveLength(1);
    expect(await auditOf("read_output")).toEqual([
      { targetId: stopped.id, details: { tool: "read_output", ok: false } },
    ]);
  });

  it("reads the job log as short text lines", async () => {
    const client = await mcp.connect();
    const fresh = await mcp.insertWorkspace({ name: "no-jobs" });
    const log = await client.callTool({
      name: "read_job_log",
      arguments: { workspace_id: fresh.id },
    });
    expect(textOf(log)).toBe("This workspace has no job yet.");
    const list = await client.callTool({ name: "list_workspaces", arguments: {} });
    const names = (JSON.parse(textOf(list)) as Array<{ name: string }>).map((w) => w.name);
    expect(names).toContain("no-jobs");
  });

  it("sets and deletes a secret without its value in an answer, the audit log or a log line", async () => {
    const client = await mcp.connect();
    const value = `marker-${randomBytes(12).toString("hex")}`;
    const set = await client.callTool({
      name: "set_secret",
      arguments: { name: "MCP_TEST_KEY", value },
    });
    expect(set.isError ?? false).toBe(false);
    expect(textOf(set)).toContain("MCP_TEST_KEY");
    // A refused value (a NUL in it) is not echoed either.
    const refused = await client.callTool({
      name: "set_secret",
      arguments: { name: "MCP_TEST_KEY", value: `${value}\0` },
    });
    expect(refused.isError).toBe(true);
    const listed = await client.callTool({ name: "list_secrets", arguments: {} });
    expect(textOf(listed)).toContain("MCP_TEST_KEY");
    const deleted = await client.callTool({
      name: "delete_secret",
      arguments: { name: "MCP_TEST_KEY" },
    });
    expect(deleted.isError ?? false).toBe(false);

    for (const answer of [set, refused, listed, deleted])
      expect(textOf(answer)).not.toContain(value);
    expect(await auditOf("set_secret")).toHaveLength(2);
    const audit = await database.db.select().from(auditLog);
    expect(JSON.stringify(audit)).not.toContain(value);
    expect(mcp.logLines.some((line) => line.includes('"path":"/mcp"'))).toBe(true);
    expect(mcp.logLines.join("\n")).not.toContain(value);
  });
});
