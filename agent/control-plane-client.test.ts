import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createControlPlaneClient } from "./control-plane-client.ts";

// The agent's side of POST /api/agent/boot-progress (the server's side is tested in
// server/http/boot-progress-route.test.ts against the same schema): what it sends, with which
// token, and that a bad report never leaves the agent.

const received: { authorization?: string; body: unknown }[] = [];
let server: http.Server;
let baseUrl: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString()));
    req.on("end", () => {
      received.push({ authorization: req.headers.authorization, body: JSON.parse(text) });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ recorded: true, state: "running" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("bootProgress", () => {
  it("posts the step with the agent's token", async () => {
    const client = createControlPlaneClient(baseUrl, { attempts: 1 });
    client.useAgentToken("cawa_test");
    await client.bootProgress({ step: "devcontainer", status: "failed", message: "no image" });
    expect(received.at(-1)).toEqual({
      authorization: "Bearer cawa_test",
      body: { step: "devcontainer", status: "failed", message: "no image" },
    });
  });

  it("refuses a report the control plane would refuse, before sending it", async () => {
    const client = createControlPlaneClient(baseUrl, { attempts: 1 });
    const before = received.length;
    await expect(
      client.bootProgress({ step: "devcontainer", status: "started", message: "x".repeat(501) }),
    ).rejects.toThrow(/message must be at most 500 characters/);
    expect(received).toHaveLength(before);
  });
});
