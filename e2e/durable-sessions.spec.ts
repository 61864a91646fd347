import { readFile } from "node:fs/promises";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { waitForWorkspace } from "../sdk/index.ts";
import { TerminalPage } from "./pages/terminal-page.ts";
import { startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";
import { signUpWithApiToken, type WorkspaceApi } from "./support/workspace-api.ts";

// SPEC §14 acceptance: the agent process is killed mid-session (SIGKILL: no chance to tidy
// up); its supervisor brings it back, and the same session re-attaches by name with its
// scrollback, the process in it still running. The built agent binary, as the one-machine
// provider runs it; a real Chromium and a real WebSocket.

let app: RunningApp;
let browser: Browser;
let api: WorkspaceApi;
let workspaceId: string;
let agentOrigin: string; // Node cannot resolve *.localhost

type Health = { status: string; pid: number; sessions: number };

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchBrowser()]);
  ({ api } = await signUpWithApiToken(app, browser, "durable-user"));
  const created = await api.workspaces.create.mutate({
    name: "durable",
    repository: `${sampleRepository.owner}/${sampleRepository.name}`,
    branch: "main",
  });
  workspaceId = created.id;
  const running = await waitForWorkspace(api, workspaceId, "running");
  agentOrigin = `http://127.0.0.1:${new URL(running!.agentUrl!).port}`;
}, 240_000);
afterAll(async () => {
  await api?.workspaces.delete.mutate({ id: workspaceId }).catch(() => {});
  if (api && workspaceId) await waitForWorkspace(api, workspaceId, "deleted").catch(() => {});
  await browser?.close();
  await app?.stop();
});

const readHealth = async (): Promise<Health | null> =>
  fetch(`${agentOrigin}/health`).then(
    (response) => (response.ok ? (response.json() as Promise<Health>) : null),
    () => null,
  );

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 600; attempt += 1) {
    const value = await probe().catch(() => null);
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Gave up waiting for ${what}.`);
}

/** Attaches a WebSocket to `session` as the browser would, and collects what comes. */
async function attachOverWebSocket(cookie: string, session: string) {
  const ws = new WebSocket(`${agentOrigin.replace(/^http/, "ws")}/ws?session=${session}`, {
    headers: { cookie, origin: agentOrigin },
  });
  const frames: Array<{ binary: boolean; data: Buffer }> = [];
  ws.on("message", (data: Buffer, binary) => frames.push({ binary, data }));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const text = () =>
    Buffer.concat(frames.filter((frame) => frame.binary).map((frame) => frame.data)).toString();
  return { ws, frames, text };
}

const highestTick = (text: string) =>
  Math.max(0, ...[...text.matchAll(/tick-(\d+)/g)].map((match) => Number(match[1])));

describe("a session when the agent is killed", () => {
  it("re-attaches by name after the restart, with its scrollback and its process still running", async () => {
    const { url } = await api.terminal.token.mutate({ workspaceId });
    const page = await browser.newPage();
    const terminal = new TerminalPage(page);
    await terminal.open(`${url}&session=durable`);
    expect(new URL(page.url()).searchParams.get("session")).toBe("durable");
    // 200 early lines scroll off the screen into tmux's history; the loop says its pid.
    await terminal.run(
      "seq 1 200 | sed 's/^/early-/'; sh -c 'echo loop-pid=$$; i=0; while :; do i=$((i+1)); echo tick-$i; sleep 1; done'",
    );
    await terminal.waitForText("tick-3");
    const [cookie] = await page
      .context()
      .cookies(agentOrigin.replace("127.0.0.1", `ws-${workspaceId}.localhost`));
    const cookieHeader = `${cookie!.name}=${cookie!.value}`;
    const before = await attachOverWebSocket(cookieHeader, "durable");
    await waitFor("the loop's pid", async () => /loop-pid=(\d+)/.exec(before.text()));
    const loopPid = Number(/loop-pid=(\d+)/.exec(before.text())![1]);
    const tickBeforeKill = highestTick(before.text());
    before.ws.close();

    const { pid: agentPid } = (await readHealth())!;
    process.kill(agentPid, "SIGKILL");
    const restarted = await waitFor("the restarted agent", async () => {
      const health = await readHealth();
      return health && health.pid !== agentPid ? health : null;
    });
    expect(restarted.sessions).toBeGreaterThanOrEqual(1);

    // The same browser page reloads: `?session=durable` in its address re-attaches.
    await page.reload();
    await page.locator('#terminal[data-status="open"]').waitFor();
    await terminal.waitForText(`tick-${tickBeforeKill + 3}`);

    const after = await attachOverWebSocket(cookieHeader, "durable");
    const hello = await waitFor("the session message", async () => {
      const first = after.frames[0];
      return first && !first.binary
        ? (JSON.parse(first.data.toString()) as { id: string; replayedBytes: number })
        : null;
    });
    expect(hello.id).toBe("durable");
    expect(hello.replayedBytes).toBeGreaterThan(0);
    const replay = after.frames[1]!.data.toString();
    expect(replay).toContain("early-1\r\n"); // scrolled off before the kill: only tmux kept it
    expect(replay).toContain("loop-pid=");
    // Still the same process, still ticking.
    await waitFor("new ticks", async () => highestTick(after.text()) > tickBeforeKill + 3);
    const status = await readFile(`/proc/${loopPid}/status`, "utf8");
    expect(status).not.toMatch(/State:\s+Z/);
    after.ws.close();
    await page.close();
  }, 240_000);
});
