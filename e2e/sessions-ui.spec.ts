import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { waitForWorkspace } from "../sdk/index.ts";
import { ConfirmDialogPage } from "./pages/confirm-dialog.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { WorkspacesPage } from "./pages/workspaces-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";
import { signUpOverHttp, type WorkspaceApi } from "./support/workspace-api.ts";

// SPEC §14 in Chromium against the one-machine mode (real agent, real tmux): a running
// workspace's Sessions table creates, opens, renames and ends sessions; a `caw status` typed in
// a session shows live on the page and the list and pops up as a browser notification; Settings
// shows a new webhook's signing secret once.

const login = "sessions-ui";
let app: RunningApp;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let api: WorkspaceApi;
let workspaceId: string | undefined;

/**
 * Stands in for the browser's Notification (headless Chromium shows none): granted, and each
 * one shown is recorded in `window.shownNotifications`.
 */
function recordNotifications() {
  const shown: { title: string; body?: string; tag?: string }[] = [];
  Object.assign(window, { shownNotifications: shown });
  class RecordedNotification {
    static permission = "granted";
    static requestPermission = () => Promise.resolve("granted");
    constructor(title: string, options: { body?: string; tag?: string } = {}) {
      shown.push({ title, ...options });
    }
  }
  Object.assign(window, { Notification: RecordedNotification });
}

const shownNotifications = () =>
  page.evaluate(
    () => (window as unknown as { shownNotifications: { title: string }[] }).shownNotifications,
  );

/** Resolves on the next `notifications.list` answer the page gets. */
const nextNotificationPoll = () =>
  page.waitForResponse((response) => response.url().includes("notifications.list"));

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchBrowser()]);
  api = await signUpOverHttp(app.baseUrl, login);
  context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  await context.addInitScript(recordNotifications);
  page = await context.newPage();
  await new SignInPage(page).signInAs(app.baseUrl, login);
});
afterAll(async () => {
  if (api && workspaceId) {
    await api.workspaces.delete.mutate({ id: workspaceId }).catch(() => {});
    await waitForWorkspace(api, workspaceId, "deleted", { timeoutMs: 60_000 }).catch(() => {});
  }
  await browser?.close();
  await app?.stop();
});

describe("the workspace page's sessions", () => {
  it("creates, opens, renames and ends sessions, and shows an agent's status live", async () => {
    const created = await api.workspaces.create.mutate({
      name: "sessions",
      repository: `${sampleRepository.owner}/${sampleRepository.name}`,
      branch: "main",
    });
    workspaceId = created.id;
    await waitForWorkspace(api, workspaceId, "running", { timeoutMs: 80_000 });
    const workspaces = new WorkspacesPage(page);
    const firstPoll = nextNotificationPoll();
    await page.goto(`${app.baseUrl}/workspaces/${workspaceId}`);
    await workspaces.waitForState("running");
    await workspaces.sessionsEmpty().waitFor();
    // The notifications before this point are the starting line, not news.
    await firstPoll;

    const name = await workspaces.newSession();
    expect(name).not.toBe("");

    // Open attaches that very session (a new one would have another name).
    const opened = await workspaces.openSession(name);
    await opened.terminal.run('echo "in-$CAW_SESSION"');
    await opened.terminal.waitForText(`in-${name}`);
    // An AI agent asks for input: the row says so, live, and the browser is told.
    await opened.terminal.run('caw status waiting "pick a branch"');
    await opened.tab.close();
    const waiting = (session: string) =>
      workspaces.sessionRow(session).locator('[data-testid="agent-status"][data-status="waiting"]');
    await waiting(name).waitFor();
    expect(await waiting(name).textContent()).toBe("Waiting for input pick a branch");
    await page.waitForFunction(
      () =>
        (window as unknown as { shownNotifications: { title: string }[] }).shownNotifications
          .length > 0,
    );
    expect(await shownNotifications()).toEqual([
      expect.objectContaining({
        title: "Needs input · sessions",
        body: expect.stringContaining("pick a branch"),
      }),
    ]);

    // Renamed in place: the shared name rule speaks at the field; the status stays.
    await workspaces.typeSessionName(name, "no spaces");
    await workspaces.sessionRow(name).getByText("use 1–40 letters").waitFor();
    await workspaces.renameSession(name, "claude");
    expect(await workspaces.sessionRow(name).count()).toBe(0);
    await waiting("claude").waitFor();
    await page.screenshot({ path: await screenshotPath("sessions-table"), fullPage: true });

    // The list shows the workspace's most urgent agent status.
    await workspaces.openList(app.baseUrl);
    await page
      .getByTestId("workspace-row")
      .filter({ hasText: "sessions" })
      .locator('[data-testid="agent-status"][data-status="waiting"]')
      .waitFor();
    // A new page load does not replay what was already there: two polls after it, so the
    // first answer was surely handled.
    await page.reload();
    await nextNotificationPoll();
    await nextNotificationPoll();
    expect(await shownNotifications()).toEqual([]);

    await page.goto(`${app.baseUrl}/workspaces/${workspaceId}`);
    const asked = await workspaces.endSession("claude");
    expect(asked).toContain("End the session claude?");
    expect(asked).toContain("Whatever runs in it is stopped.");
    await workspaces.sessionsEmpty().waitFor();
  });
});

describe("Settings → Notifications", () => {
  it("shows a new webhook's signing secret once, and removes the webhook", async () => {
    await page.goto(`${app.baseUrl}/settings`);
    await page.getByRole("heading", { name: "Notifications", exact: true }).waitFor();
    await page
      .locator("code", { hasText: "x-caw-signature: sha256=HMAC-SHA256(secret, body)" })
      .waitFor();
    await page.getByTestId("notification-permission").getByText("allowed").waitFor();
    await page.getByLabel("Webhook URL").fill("http://127.0.0.1:9/caw-hook");
    await page.getByRole("button", { name: "Save webhook" }).click();
    const secret = (await page.getByTestId("webhook-secret").textContent()) ?? "";
    expect(secret.length).toBeGreaterThanOrEqual(32);
    await page.getByTestId("webhook-url").getByText("http://127.0.0.1:9/caw-hook").waitFor();

    await page.reload();
    await page.getByTestId("webhook-url").getByText("http://127.0.0.1:9/caw-hook").waitFor();
    expect(await page.content()).not.toContain(secret);

    await page.getByRole("button", { name: "Remove webhook" }).click();
    const confirm = new ConfirmDialogPage(page, "Remove the webhook?");
    await confirm.dialog.getByText("Nothing will be sent to it any more.").waitFor();
    await confirm.button("Remove webhook").click();
    await page.getByText("No webhook yet.").waitFor();
    expect(await api.notifications.webhook.get.query()).toBeNull();
  });
});
