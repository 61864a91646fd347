import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot, startProgram } from "../server/testing/program.ts";
import { createClient, waitForWorkspace, type Client } from "../sdk/index.ts";
import { SettingsPage } from "./pages/settings-page.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

// The SDK guide's script, run as a reader would run it (`node --import tsx`, importing
// `cloud-ai-workspaces/sdk` by package name) against the one-machine app.

const script = "sdk/examples/create-workspace.ts";
const runScript = (env: Record<string, string>, args: string[] = []) =>
  startProgram(process.execPath, ["--import", "tsx", script, ...args], env);

describe("the SDK guide", () => {
  it("shows exactly the script that is run here", async () => {
    const guide = await readFile(path.join(projectRoot, "docs/guides/sdk.md"), "utf8");
    const source = await readFile(path.join(projectRoot, script), "utf8");
    const blocks = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    expect(blocks).toContain(source);
  });

  it("stops with a clear message before any request when the token is not an API token", async () => {
    const run = runScript({ CAW_URL: "http://127.0.0.1:9", CAW_TOKEN: "ghp_not-ours" });
    expect(await run.exited).toEqual({ code: 1, signal: null });
    expect(run.output()).toContain("create one under Settings → API tokens");
  });
});

describe("the SDK guide's script against the one-machine app", () => {
  let app: RunningApp;
  let browser: Browser;
  let token: string;
  let client: Client;
  let workspaceId: string | undefined;

  beforeAll(async () => {
    [app, browser] = await Promise.all([startApp(), launchBrowser()]);
    const context = await browser.newContext();
    const page = await context.newPage();
    await new SignInPage(page).signInAs(app.baseUrl, "sdk-user");
    const settings = new SettingsPage(page);
    await settings.open(app.baseUrl);
    token = await settings.createToken("sdk guide");
    await context.close();
    client = createClient({ baseUrl: app.baseUrl, token });
  });
  afterAll(async () => {
    // Only when a test above failed half-way: the workspace was created but not deleted.
    if (workspaceId) {
      await client.workspaces.delete.mutate({ id: workspaceId }).catch(() => {});
      await waitForWorkspace(client, workspaceId, "deleted", { timeoutMs: 60_000 }).catch(
        (error: unknown) => console.error("workspace not deleted:", error),
      );
    }
    await browser?.close();
    await app?.stop();
  });

  it("creates a workspace, waits for it to run and prints a terminal URL that opens", async () => {
    const run = runScript({ CAW_URL: app.baseUrl, CAW_TOKEN: token }, ["sdk-demo"]);
    const { code } = await run.exited;
    // From the progress line, so that a workspace is cleaned up even if no URL came out.
    workspaceId = /Created workspace sdk-demo \(([0-9a-f-]{36})\)/.exec(run.output())?.[1];
    const url = /http:\/\/ws-([0-9a-f-]{36})\.localhost:(\d+)\/\?token=\S+/.exec(run.output());
    expect({ code, output: run.output() }).toMatchObject({ code: 0 });
    expect(url).not.toBeNull();
    expect(url![1]).toBe(workspaceId);
    expect(run.output()).not.toContain(token);

    const workspace = await client.workspaces.get.query({ id: workspaceId! });
    expect(workspace).toMatchObject({ name: "sdk-demo", state: "running" });
    // Node cannot resolve *.localhost: enter the agent by its loopback address instead.
    const entry = new URL(url![0]);
    const response = await fetch(`http://127.0.0.1:${url![2]}/${entry.search}`, {
      redirect: "manual",
    });
    // The agent traded the token for its session cookie.
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()[0]).toMatch(/^caw_terminal=/);
  }, 150_000);

  it("deletes that workspace with the SDK and waits until it is gone", async () => {
    const id = workspaceId!;
    await client.workspaces.delete.mutate({ id });
    await expect(waitForWorkspace(client, id, "deleted", { timeoutMs: 60_000 })).resolves.toBe(
      null,
    );
    workspaceId = undefined; // nothing left for afterAll to clean up
    expect((await client.workspaces.list.query()).map((workspace) => workspace.id)).not.toContain(
      id,
    );
  });
});
