import type { AddressInfo } from "node:net";
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import type { TerminalAttachment } from "./attachment.ts";
import { attachTerminalSocket } from "./terminal-socket.ts";
import {
  bashChoice,
  connectClient,
  startTestServer,
  startTestSessions,
  waitUntil,
  type TerminalClient,
  type TestSessions,
} from "./test-support.ts";

const mebibyte = 1024 * 1024;
let cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  cleanups = [];
});

/** The agent side of every socket, with the most output it ever had waiting to be sent. */
interface ServerSide {
  ws: WebSocket;
  session: TerminalAttachment;
  maxBuffered: number;
}

/** attachTerminalSocket behind a bare WebSocketServer, so a test can watch the agent side. */
async function startSocketHarness(test: TestSessions) {
  const sides: ServerSide[] = [];
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => {
    const side = { ws, maxBuffered: 0 } as ServerSide;
    const send = ws.send.bind(ws) as (data: unknown, options?: unknown) => void;
    ws.send = ((data: unknown, options?: unknown) => {
      send(data, options);
      side.maxBuffered = Math.max(side.maxBuffered, ws.bufferedAmount);
    }) as typeof ws.send;
    sides.push(side);
    void attachTerminalSocket(ws, test.sessions, { cols: 80, rows: 24 }).then((attachment) => {
      side.session = attachment!;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await test.close();
  });
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sides };
}

describe("attachTerminalSocket backpressure", () => {
  // Through tmux the shell itself never blocks (tmux redraws a slow client's screen instead),
  // but the client's PTY pauses, so memory stays bounded and other sessions are unaffected.
  it("pauses a flooding session while its reader lags, and others keep working", async () => {
    const harness = await startSocketHarness(await startTestSessions());
    const flood = await connectClient(harness.origin, { keepOutput: false });
    await flood.waitForMessage("session");
    const floodSide = harness.sides[0]!;
    flood.type("cat /dev/urandom\r");
    // The browser stops reading: kernel buffers fill, then the agent's, then the PTY pauses.
    flood.ws.pause();
    await waitUntil("the flooding session to pause", () => floodSide.session.paused, 60_000);

    const other = await connectClient(harness.origin);
    other.type("echo still-$((2*21))-here\r");
    await other.waitForText("still-42-here");
    expect(floodSide.session.paused).toBe(true);

    flood.ws.resume();
    const resumedAt = flood.outputBytes;
    other.type("echo while-$((2*21))-flowing\r");
    await other.waitForText("while-42-flowing");
    await flood.waitFor("more flood output", () => flood.outputBytes > resumedAt + 4 * mebibyte);
    flood.type("\x03");
    expect(floodSide.maxBuffered).toBeLessThan(2 * mebibyte);
  }, 120_000);
});

describe("attachTerminalSocket exit ordering", () => {
  // tmux itself can lose the last kilobytes a process writes in the instant it exits (it stops
  // reading the pane at the hang-up; docs/adr/0014), so the shell pauses a moment first.
  it("through tmux, delivers the last output before the exit and its code, 20 times", async () => {
    const command = "seq 1 2000; echo END-$((6*7)); sleep 0.2; exit 3";
    const agent = await startTestServer({ shells: () => bashChoice(command) });
    cleanups.push(() => agent.close());
    const runOnce = async () => {
      const client = await connectClient(agent.origin);
      expect(await client.waitForMessage("exit")).toEqual({ type: "exit", code: 3, signal: null });
      expect(await client.closed).toBe(1000);
      const exitAt = client.events.findIndex(
        (event) => event.kind === "message" && event.type === "exit",
      );
      expect(exitAt).toBe(client.events.length - 1);
      expect(client.text()).toContain("END-42");
    };
    for (let batch = 0; batch < 5; batch++)
      await Promise.all([runOnce(), runOnce(), runOnce(), runOnce()]);
  }, 300_000);

  it("on a plain PTY (no tmux), delivers every byte of a 1 MB burst before exit, 100 times", async () => {
    const command = "head -c 1000000 /dev/zero | tr '\\0' Z";
    const agent = await startTestServer({
      useTmux: false,
      shells: () => bashChoice(command),
      exitedRetentionMs: 100,
    });
    cleanups.push(() => agent.close());
    const runOnce = async () => {
      const client = await connectClient(agent.origin);
      expect(await client.waitForMessage("exit")).toEqual({ type: "exit", code: 0, signal: null });
      expect(await client.closed).toBe(1000);
      expect(bytesBeforeExit(client)).toBe(1_000_000);
      expect(/^Z+$/.test(client.text())).toBe(true);
    };
    for (let batch = 0; batch < 25; batch++)
      await Promise.all([runOnce(), runOnce(), runOnce(), runOnce()]);
  }, 300_000);
});

function bytesBeforeExit(client: TerminalClient): number {
  const exitAt = client.events.findIndex(
    (event) => event.kind === "message" && event.type === "exit",
  );
  return client.events
    .slice(0, exitAt)
    .reduce((sum, event) => sum + (event.kind === "output" ? event.bytes : 0), 0);
}
