import { describe, expect, it } from "vitest";
import { tmuxAttachment } from "./attachment.ts";
import type { SessionExit } from "./terminal-session.ts";
import { bashShell } from "./test-support.ts";

// The exit of a tmux session goes out only after the last output its client drew. The client
// here is a stand-in (bash printing on a timer); what matters is the agent's own event loop.

function attach(command: string, exitQuietMs: number, onData: (text: string) => void = () => {}) {
  const received: string[] = [];
  let exited: SessionExit | null = null;
  const attachment = tmuxAttachment({
    name: "test",
    cols: 80,
    rows: 24,
    client: bashShell(command),
    replay: Buffer.alloc(0),
    onInput: () => {},
    exitOf: () => null,
    exitQuietMs,
  });
  attachment.start({
    data: (chunk) => {
      received.push(chunk.toString());
      onData(chunk.toString());
    },
    exit: (exit) => void (exited = exit),
    notice: () => {},
    replace: () => {},
  });
  return { attachment, text: () => received.join(""), exited: () => exited };
}

const busyWait = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

async function waitFor(what: string, probe: () => boolean) {
  for (let tries = 0; tries < 3_000 && !probe(); tries += 1)
    await new Promise((resolve) => setTimeout(resolve, 10));
  if (!probe()) throw new Error(`Gave up waiting for ${what}`);
}

describe("a tmux attachment's exit", () => {
  it("waits for output that arrived while the agent was busy", async () => {
    // Ticks 50 ms apart (bash's own `read -t`: no process to start, so a loaded machine keeps
    // them well inside the quiet time), then `last`. The callback that reads the second tick
    // keeps the agent busy until the rest has been written and the quiet time is long over.
    const pause = "read -r -t 0.05 _";
    const ticks = `for i in 1 2 3 4 5 6; do printf tick$i; ${pause}; done; printf last; read -r -t 10 _`;
    const client = attach(ticks, 300, (text) => void (text.includes("tick2") && busyWait(1_500)));
    await waitFor("the first tick", () => client.text().includes("tick1"));
    await client.attachment.finish({ code: 3, signal: null });
    expect(client.exited()).toEqual({ code: 3, signal: null });
    expect(client.text()).toContain("last");
  });
});
