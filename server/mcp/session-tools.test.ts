import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startMcpHarness, textOf, type McpHarness } from "./mcp-test-kit.ts";
import { maxOutputCharacters } from "./session-tools.ts";

// SPEC §14: the session tools against a stand-in agent on loopback (a real HTTP server that
// records the control plane's calls): input goes through, output comes back bounded and free
// of escape sequences, and end_session ends nothing without the workspace's name.

type AgentCall = { method: string; path: string; body: string };

let database: TestDatabase;
let mcp: McpHarness;
let agent: http.Server;
let agentUrl: string;
const calls: AgentCall[] = [];
// What the stand-in's scrollback holds: colours, a cursor move, a title, and far too much.
const noisy = `${"y".repeat(maxOutputCharacters)}\r\n\u001b[31mlast\u001b[0m\u001b[2K \u001b]0;title\u0007line`;

beforeAll(async () => {
  database = await createTestDatabase();
  mcp = await startMcpHarness(database, "carol");
  agent = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      calls.push({ method: req.method!, path: req.url!, body });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(answerOf(req.method!, req.url!)));
    });
  });
  await new Promise<void>((resolve) => agent.listen(0, "127.0.0.1", resolve));
  agentUrl = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await mcp?.close();
  await new Promise((resolve) => agent?.close(resolve));
  await database?.drop();
});

function answerOf(method: string, path: string): unknown {
  if (path.includes("/output")) return { name: "shell-1", text: noisy, lines: 2 };
  if (path.endsWith("/input")) return { ok: true };
  if (method === "DELETE") return { name: "shell-1" };
  return {
    name: "shell-1",
    startedAt: new Date().toISOString(),
    lastOutputAt: null,
    status: null,
    statusMessage: null,
    statusChangedAt: null,
  };
}

describe("session tools", () => {
  it("create, type, read (bounded, plain) and end with the workspace's name", async () => {
    const client = await mcp.connect();
    const workspace = await mcp.insertWorkspace({ name: "busy", state: "running", agentUrl });
    const ids = { workspace_id: workspace.id, session: "shell-1" };
    const created = await client.callTool({ name: "create_session", arguments: ids });
    expect(JSON.parse(textOf(created))).toMatchObject({ name: "shell-1" });
    const typed = await client.callTool({
      name: "send_input",
      arguments: { ...ids, text: "echo hi" },
    });
    expect(typed.isError ?? false).toBe(false);
    expect(calls.at(-1)).toMatchObject({
      method: "POST",
      path: "/api/sessions/shell-1/input",
      body: JSON.stringify({ text: "echo hi", enter: true }),
    });

    const output = textOf(await client.callTool({ name: "read_output", arguments: ids }));
    expect(calls.at(-1)!.path).toBe("/api/sessions/shell-1/output?lines=100");
    for (const control of ["\u001b", "\u0007", "\r"]) expect(output).not.toContain(control);
    expect(output).toHaveLength(maxOutputCharacters);
    expect(output.endsWith("y\nlast line")).toBe(true);

    const before = calls.length;
    const refused = await client.callTool({
      name: "end_session",
      arguments: { ...ids, confirm_name: "shell-1" },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain("is not the name of workspace");
    expect(calls.length).toBe(before);
    const ended = await client.callTool({
      name: "end_session",
      arguments: { ...ids, confirm_name: "busy" },
    });
    expect(JSON.parse(textOf(ended))).toEqual({ name: "shell-1" });
    expect(calls.at(-1)).toMatchObject({ method: "DELETE", path: "/api/sessions/shell-1" });
  });
});
