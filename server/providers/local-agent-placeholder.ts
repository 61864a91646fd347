import { appendFile, readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { z } from "zod";

// Stands in for the workspace agent in the one-machine mode until the real agent (the
// agent issue) replaces it: it redeems its bootstrap token, reports ready, heartbeats, and
// answers GET /health. No terminal. Usage: local-agent-placeholder <user-data> <port> <folder>

const userDataSchema = z.object({
  controlPlaneUrl: z.string().url(),
  bootstrapToken: z.string().min(1),
  agentVersion: z.string().min(1),
  heartbeatSeconds: z.number().int().positive().default(60),
});

const [userDataFile, portText, workspaceFolder] = process.argv.slice(2);
if (!userDataFile || !portText || !workspaceFolder) {
  console.error("usage: local-agent-placeholder <user-data file> <port> <workspace folder>");
  process.exit(64);
}
const userData = userDataSchema.parse(JSON.parse(await readFile(userDataFile, "utf8")));
const logFile = path.join(workspaceFolder, ".agent.log");
const log = (message: string) =>
  appendFile(logFile, `${JSON.stringify({ time: new Date().toISOString(), message })}\n`);

async function call(pathname: string, token: string | null, body?: unknown) {
  const response = await fetch(`${userData.controlPlaneUrl}${pathname}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body ?? {}),
  });
  if (!response.ok)
    throw new Error(`${pathname} answered ${response.status}: ${await response.text()}`);
  return response.json() as Promise<Record<string, unknown>>;
}

const server = http.createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ status: "ok", agent: "placeholder", version: userData.agentVersion }));
});
await new Promise<void>((resolve) => server.listen(Number(portText), "127.0.0.1", resolve));
await log(`listening on ${portText}`);

const { agentToken } = (await call("/api/agent/bootstrap", null, {
  bootstrapToken: userData.bootstrapToken,
  agentVersion: userData.agentVersion,
})) as { agentToken: string };
await call("/api/agent/ready", agentToken);
await log("reported ready");
const heartbeat = setInterval(() => {
  call("/api/agent/heartbeat", agentToken, {
    agentVersion: userData.agentVersion,
    sessions: 0,
    lastActivityAt: null,
  }).catch((error: unknown) => log(`heartbeat failed: ${String(error)}`));
}, userData.heartbeatSeconds * 1000);

process.once("SIGTERM", () => {
  clearInterval(heartbeat);
  server.close(() => process.exit(0));
});
