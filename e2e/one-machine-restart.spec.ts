import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForWorkspace } from "../sdk/index.ts";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { findFreePort } from "../server/process/free-port.ts";
import { startNodeProgram, type RunningProgram } from "../server/testing/program.ts";
import { WorkspacesPage } from "./pages/workspaces-page.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { launchBrowser } from "./support/browser.ts";
import { signUpOverHttp, type WorkspaceApi } from "./support/workspace-api.ts";

// Issue #14, deliverable 5: `npm start` exactly as a user runs it (no DATABASE_URL: the
// embedded PostgreSQL under DATA_DIR), stopped with Ctrl-C or killed outright, then started
// again on the same DATA_DIR, the agents surviving it (they run in sessions of their own) or
// not (a reboot, a container stopped). By its "Ready" line every local workspace that was
// running is running again with a terminal that answers (ADR 0024), never a dead
// "Open terminal".

let dataDir: string;
let port: number;
let baseUrl: string;
let launcher: RunningProgram;
let api: WorkspaceApi;
let browser: Browser;

const readyLine = /^Ready: open http:\/\/\S+$/;

/** Starts the launcher as `npm start` does and waits for its Ready line. */
async function startLauncher(): Promise<void> {
  launcher = startNodeProgram("server/start.ts", [], {
    DATABASE_URL: "",
    ENCRYPTION_KEYS: "",
    DATA_DIR: dataDir,
    PORT: String(port),
    PUBLIC_URL: baseUrl,
  });
  await launcher.waitForLog(readyLine, 120_000);
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-restart-"));
  // Passable by the workspaces' own OS users when run as root (mkdtemp makes 0700).
  await chmod(dataDir, 0o711);
  port = await findFreePort();
  baseUrl = `http://localhost:${port}`;
  [, browser] = await Promise.all([startLauncher(), launchBrowser()]);
  api = await signUpOverHttp(baseUrl, "restart-dev");
}, 180_000);

afterAll(async () => {
  // Deleting the workspace stops its agent; the launcher then stops the database.
  for (const workspace of (await api?.workspaces.list.query().catch(() => [])) ?? []) {
    await api.workspaces.delete.mutate({ id: workspace.id }).catch(() => {});
    await waitForWorkspace(api, workspace.id, "deleted").catch(() => {});
  }
  await launcher?.stop("SIGINT");
  await browser?.close();
  await rm(dataDir, { recursive: true, force: true });
}, 120_000);

/** Ends the agents as a reboot would: each supervisor's process group, killed outright. */
async function killAgents(): Promise<number> {
  const folder = path.join(dataDir, "workspaces", "servers");
  const records = (await readdir(folder)).filter((name) => name.endsWith(".json"));
  for (const name of records) {
    const { pid } = JSON.parse(await readFile(path.join(folder, name), "utf8")) as { pid: number };
    process.kill(-pid, "SIGKILL");
  }
  return records.length;
}

/** The state of the workspace as the launcher says Ready, and the lines printed until then. */
async function restartWith(signal: NodeJS.Signals, { agentsToo = false } = {}) {
  const before = launcher;
  expect(await before.stop(signal)).toEqual(
    signal === "SIGKILL" ? { code: null, signal: "SIGKILL" } : { code: 0, signal: null },
  );
  if (agentsToo) expect(await killAgents()).toBe(1);
  await startLauncher();
  const [workspace] = await api.workspaces.list.query();
  const lines = launcher.output().trimEnd().split("\n");
  return { workspace: workspace!, lines };
}

/** Opens the workspace's terminal from its page and runs a command in it. */
async function expectWorkingTerminal(id: string): Promise<void> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await new SignInPage(page).signInAs(baseUrl, "restart-dev");
  await page.goto(`${baseUrl}/workspaces/${id}`);
  const workspaces = new WorkspacesPage(page);
  await workspaces.waitForState("running");
  const { terminal } = await workspaces.openTerminal();
  await terminal.run("echo $((6 * 7))-after-restart");
  await terminal.waitForText("42-after-restart");
  await context.close();
}

function expectReadyLast(lines: string[]): void {
  const readyAt = lines.findIndex((line) => readyLine.test(messageOf(line)));
  expect(readyAt).toBeGreaterThan(-1);
  expect(lines.filter((line) => readyLine.test(messageOf(line)))).toHaveLength(1);
  // Nothing of the start-up comes after it: children and reconcile all spoke before.
  const after = lines.slice(readyAt + 1).map(messageOf);
  for (const startUp of ["web server listening", "worker ready", "embedded PostgreSQL is running"])
    expect(after).not.toContain(startUp);
}

function messageOf(line: string): string {
  try {
    return String((JSON.parse(line) as { msg?: unknown }).msg ?? line);
  } catch {
    return line;
  }
}

describe("npm start again after Ctrl-C or a crash", () => {
  let workspaceId: string;

  it("brings a running local workspace back before it says Ready", async () => {
    const created = await api.workspaces.create.mutate({
      name: "survivor",
      repository: `${sampleRepository.owner}/${sampleRepository.name}`,
      branch: "main",
    });
    workspaceId = created.id;
    await waitForWorkspace(api, workspaceId, "running", { timeoutMs: 90_000 });
    expectReadyLast(launcher.output().trimEnd().split("\n"));
  });

  it.each(["SIGINT", "SIGKILL"] as const)(
    "after %s: running with a terminal that answers, by the Ready line",
    async (signal) => {
      const { workspace, lines } = await restartWith(signal);
      expect(workspace.id).toBe(workspaceId);
      expect(workspace.state).toBe("running");
      expectReadyLast(lines);
      await expectWorkingTerminal(workspaceId);
    },
    180_000,
  );

  it("restarts a workspace whose agent ended with the launcher, and says so", async () => {
    const { workspace, lines } = await restartWith("SIGKILL", { agentsToo: true });
    expect(workspace.state).toBe("running");
    expectReadyLast(lines);
    const events = await api.workspaces.events.query({ id: workspaceId });
    const reasons = events.map((event) => `${event.toState}: ${event.reason}`);
    expect(reasons).toEqual(
      expect.arrayContaining([
        "stopping: Its agent ended with the last run of `npm start`",
        "starting: Restarted by `npm start`: it was running when the last run ended",
      ]),
    );
    expect(reasons.at(-1)).toMatch(/^running: /);
    await expectWorkingTerminal(workspaceId);
  }, 240_000);
});
