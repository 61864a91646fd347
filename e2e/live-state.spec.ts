import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { waitForWorkspace } from "../sdk/index.ts";
import { LiveWorkspacePage } from "./pages/live-workspace-page.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";
import { signUpWithApiToken, type WorkspaceApi } from "./support/workspace-api.ts";

// Issue #14, deliverable 1, in the one-machine mode: a change made elsewhere (here through
// the SDK) shows on the open list and workspace page by server push, with no reload; the
// timeline ends with the state shown; with the push cut the pages still get there by polling;
// an unknown id is said once and not asked again; open streams do not hold up a shutdown.

const login = "live-state";
const name = "live-state";
// "Within a second or two" of the change: well under the pages' fallback polling intervals.
const pushMs = 2_000;
let app: RunningApp;
let browser: Browser;
let api: WorkspaceApi;
let context: BrowserContext;
let workspaceId: string | undefined;

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchBrowser()]);
  ({ api } = await signUpWithApiToken(app, browser, login));
  context = await browser.newContext();
  await new SignInPage(await context.newPage()).signInAs(app.baseUrl, login);
  const created = await api.workspaces.create.mutate({
    name,
    repository: `${sampleRepository.owner}/${sampleRepository.name}`,
    branch: "main",
  });
  workspaceId = created.id;
  await waitForWorkspace(api, created.id, "running", { timeoutMs: 80_000 });
});
afterAll(async () => {
  if (api && workspaceId) {
    await api.workspaces.delete.mutate({ id: workspaceId }).catch(() => {});
    await waitForWorkspace(api, workspaceId, "deleted", { timeoutMs: 60_000 }).catch(() => {});
  }
  await browser?.close();
  await app?.stop();
});

async function openPage(): Promise<{ page: Page; live: LiveWorkspacePage }> {
  const page = await context.newPage();
  return { page, live: new LiveWorkspacePage(page) };
}

describe("live state", () => {
  it("the workspace page follows a stop made elsewhere within a moment, without a reload", async () => {
    const { page, live } = await openPage();
    await live.openWorkspace(app.baseUrl, workspaceId!);
    await live.waitForLive("on");
    await live.waitForState("running", pushMs);
    // The timeline ends with the state shown, however fast the workspace got there.
    await live.waitForTimelineToEndWith("running", pushMs);
    await live.markDocument();

    await api.workspaces.stop.mutate({ id: workspaceId! });
    await waitForWorkspace(api, workspaceId!, "stopped", { timeoutMs: 60_000 });
    await live.waitForState("stopped", pushMs);
    await live.waitForTimelineToEndWith("stopped", pushMs);
    expect((await live.timelineStates()).slice(-2)).toEqual(["stopping", "stopped"]);
    expect(await live.wasReloaded()).toBe(false);
    await page.close();
  });

  it("the list follows a start made elsewhere, and says what this month cost", async () => {
    const { page, live } = await openPage();
    await live.openList(app.baseUrl);
    await live.waitForLive("on");
    await live.waitForRowState(name, "stopped", pushMs);
    await expect(live.monthCost().textContent()).resolves.toMatch(
      /This month \(\w+\): nothing: workspaces run on this machine \(one-machine mode\)/,
    );
    await live.markDocument();

    await api.workspaces.start.mutate({ id: workspaceId! });
    await waitForWorkspace(api, workspaceId!, "running", { timeoutMs: 80_000 });
    await live.waitForRowState(name, "running", pushMs);
    expect(await live.wasReloaded()).toBe(false);
    await page.close();
  });

  it("with the push stream cut, the page still gets there by polling", async () => {
    const { page, live } = await openPage();
    await page.route("**/api/trpc/live.updates**", (route) => route.abort());
    await live.openWorkspace(app.baseUrl, workspaceId!);
    await live.waitForState("running", 10_000);
    await live.waitForLive("off");

    await api.workspaces.stop.mutate({ id: workspaceId! });
    await waitForWorkspace(api, workspaceId!, "stopped", { timeoutMs: 60_000 });
    // The fallback polls every 2 s while the workspace is busy, every 5 s while it runs.
    await live.waitForState("stopped", 15_000);
    await live.waitForTimelineToEndWith("stopped", 15_000);
    await page.close();
  });

  it("an unknown workspace id is said to be unknown once, and not asked for again", async () => {
    const { page, live } = await openPage();
    const asked: string[] = [];
    page.on("request", (request) => {
      if (request.url().includes("workspaces.get")) asked.push(request.url());
    });
    // The stream connects only after the answer: its resync must not ask again.
    let connect: () => void = () => {};
    const connected = new Promise<void>((resolve) => (connect = resolve));
    await page.route("**/api/trpc/live.updates**", async (route) => {
      await connected;
      await route.continue();
    });
    await live.openWorkspace(app.baseUrl, "00000000-0000-4000-8000-000000000000");
    await live.notFound().waitFor();
    const afterAnswer = asked.length;
    connect();
    await live.waitForLive("on");
    // Longer than two of the old 2-second polls.
    await page.waitForTimeout(5_000);
    expect(asked.length).toBe(afterAnswer);
    expect(afterAnswer).toBeLessThanOrEqual(1);
    await expect(live.notFound().textContent()).resolves.toContain("No such workspace");
    await page.close();
  });

  it("the web program still stops cleanly while a page holds a live stream", async () => {
    await api.workspaces.delete.mutate({ id: workspaceId! });
    await waitForWorkspace(api, workspaceId!, "deleted", { timeoutMs: 60_000 });
    workspaceId = undefined;
    const { page, live } = await openPage();
    await live.openList(app.baseUrl);
    await live.waitForLive("on");

    expect(await app.launcher.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    expect(app.launcher.output()).toContain("web server stopped");
    expect(app.launcher.output()).not.toContain("shutdown took too long");
    // The page noticed, and polls until the server is back.
    await live.waitForLive("off");
    await page.close();
  });
});
