import { Writable } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { workspaces } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { Env } from "../env.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createLogger } from "../logger.ts";
import { createApiToken } from "../services/api-tokens.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import type { TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";

// The MCP tests' setup: our real web server on loopback (log lines kept, at debug level), a
// user with an API token, and the official MCP client over Streamable HTTP.

export type McpHarness = Awaited<ReturnType<typeof startMcpHarness>>;

export async function startMcpHarness(
  database: TestDatabase,
  login: string,
  overrides: Partial<Env> = {},
) {
  const logLines: string[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const context: AppLoadContextValue = await createTestLoadContext(database, overrides);
  const web: TestWebServer = await startTestWebServer(
    context,
    createLogger({ level: "debug", service: "web", destination: capture }),
  );
  const user: AuthenticatedUser = await createTestUser(context, login);
  const owner = { userId: user.id, auditSubject: user.auditSubject };
  const { token } = await createApiToken(database.db, owner, { name: "mcp" }, { limit: 20 });
  const clients: Client[] = [];

  async function connect(headers: Record<string, string> = { authorization: `Bearer ${token}` }) {
    const client = new Client({ name: "mcp-test", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${web.baseUrl}/mcp`), {
      requestInit: { headers },
    });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  /** A workspace row of the user's, as the engine would have left it. */
  async function insertWorkspace(
    values: Partial<typeof workspaces.$inferInsert> & { name: string },
  ) {
    const [row] = await database.db
      .insert(workspaces)
      .values({
        userId: user.id,
        repository: "stand-in/sample",
        branch: "main",
        provider: "local",
        serverType: "local",
        location: "local",
        idleTimeoutMinutes: 30,
        state: "stopped",
        ...values,
      })
      .returning();
    return row!;
  }

  return {
    context,
    web,
    user,
    token,
    logLines,
    connect,
    insertWorkspace,
    close: async () => {
      await Promise.all(clients.map((client) => client.close()));
      await web.close();
    },
  };
}

type CallResult = Awaited<ReturnType<Client["callTool"]>>;

/** The text of a tool's answer. */
export const textOf = (result: CallResult) =>
  (result.content as Array<{ type: string; text: string }>).map((part) => part.text).join("");
