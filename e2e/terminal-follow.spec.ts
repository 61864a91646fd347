import { randomUUID } from "node:crypto";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { terminalGrants } from "../db/schema.ts";
import {
  terminalGrantHeader,
  terminalLauncherPath,
  terminalStatusPath,
} from "../protocol/terminal-status.ts";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { createClient, waitForWorkspace } from "../sdk/index.ts";
import { SettingsPage } from "./pages/settings-page.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { TerminalPage } from "./pages/terminal-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";
import { signUpOverHttp, type WorkspaceApi } from "./support/workspace-api.ts";

// ADR 0022, in the one-machine mode with the built agent: a terminal tab open while its
// workspace stops for idleness says so, with the reason, refuses what is typed, offers Start,
// and after Start follows the workspace to its new agent (another port, a fresh link for the
// same session), where the files on the volume are still there. The status endpoint answers
// only a live grant of the workspace's owner, and only to that workspace's agent origin.

const idleSeconds = 10;
const session = "follow";
let app: RunningApp;
let browser: Browser;
let context: BrowserContext;
let api: WorkspaceApi;
let workspaceId = "";

beforeAll(async () => {
  [app, browser] = await Promise.all([
    startApp({ LOCAL_AGENT_IDLE_TIMEOUT_SECONDS: String(idleSeconds) }),
    launchBrowser(),
  ]);
  // One context for the control plane and the terminal: the launcher needs its session cookie.
  context = await browser.newContext();
  const page = await context.newPage();
  await new SignInPage(page).signInAs(app.baseUrl, "follow-user");
  const settings = new SettingsPage(page);
  await settings.open(app.baseUrl);
  api = createClient({ baseUrl: app.baseUrl, token: await settings.createToken("e2e") });
  await page.close();
  ({ id: workspaceId } = await api.workspaces.create.mutate({
    name: "follow",
    repository: `${sampleRepository.owner}/${sampleRepository.name}`,
    branch: "main",
  }));
  await waitForWorkspace(api, workspaceId, "running");
}, 240_000);
afterAll(async () => {
  await api?.workspaces.delete.mutate({ id: workspaceId }).catch(() => {});
  if (api && workspaceId) await waitForWorkspace(api, workspaceId, "deleted").catch(() => {});
  await context?.close();
  await browser?.close();
  await app?.stop();
});

const statusUrl = () => `${app.baseUrl}${terminalStatusPath}?workspace=${workspaceId}`;
const askStatus = (origin: string, grantId: string) =>
  fetch(statusUrl(), { headers: { origin, [terminalGrantHeader]: grantId } });

async function showFailure(page: Page, name: string, error: unknown): Promise<never> {
  await page.screenshot({ path: await screenshotPath(name), fullPage: true });
  console.error(
    page.url(),
    await page
      .locator("body")
      .innerText()
      .catch(() => ""),
  );
  throw error;
}

describe("a terminal tab when its workspace stops for idleness", () => {
  it("says why, refuses input, offers Start, and follows the workspace to its new agent", async () => {
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    const terminal = new TerminalPage(page);
    // The launcher sends its owner to the current agent, attaching the named session.
    await terminal.open(`${app.baseUrl}${terminalLauncherPath(workspaceId, session)}`);
    const firstAgent = new URL(page.url());
    expect(firstAgent.hostname).toBe(`ws-${workspaceId}.localhost`);
    expect(firstAgent.searchParams.get("session")).toBe(session);
    await terminal.run("echo follow-marker > follow.txt && echo written-$((6*7))");
    await terminal.waitForText("written-42");
    const grantId = await terminal.grantId();
    expect(grantId).toMatch(/^[0-9a-f-]{36}$/);

    await terminal
      .waitForWorkspaceState("stopped", 90_000)
      .catch((error: unknown) => showFailure(page, "terminal-follow-stop", error));
    await expect
      .poll(() => terminal.workspacePanel.innerText())
      .toContain(`Stopped: idle for ${idleSeconds} s`);
    expect(await terminal.terminal.getAttribute("data-status")).toBe("closed");
    await page.screenshot({ path: await screenshotPath("terminal-stopped"), fullPage: true });

    // The status endpoint, as the page called it: this workspace's agent origin, this grant.
    const answer = await askStatus(firstAgent.origin, grantId);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("access-control-allow-origin")).toBe(firstAgent.origin);
    expect(await answer.json()).toMatchObject({
      state: "stopped",
      startable: true,
      terminal: false,
    });

    // The launcher, opened meanwhile, says the same and offers Start too.
    const launcher = await context.newPage();
    await launcher.goto(`${app.baseUrl}${terminalLauncherPath(workspaceId, session)}`);
    const card = launcher.getByTestId("terminal-launcher");
    expect(await card.getAttribute("data-state")).toBe("stopped");
    expect(await card.innerText()).toContain(`idle for ${idleSeconds} s`);
    expect(await card.getByRole("button", { name: "Start" }).isVisible()).toBe(true);
    await launcher.close();

    // Typing while disconnected is refused where it can be seen, not kept or dropped silently.
    await terminal.terminal.click();
    await page.keyboard.type("ls");
    await expect.poll(() => terminal.refusedNotice.isVisible()).toBe(true);
    expect(await terminal.refusedNotice.innerText()).toContain("not sent (2 keys)");

    await terminal.startButton.click();
    await page
      .waitForURL((url) => url.hostname === firstAgent.hostname && url.port !== firstAgent.port, {
        timeout: 120_000,
      })
      .catch((error: unknown) => showFailure(page, "terminal-follow-start", error));
    await terminal.waitUntilOpen();
    const secondAgent = new URL(page.url());
    expect(secondAgent.searchParams.get("session")).toBe(session);
    expect(await terminal.workspacePanel.isHidden()).toBe(true);
    await terminal.run("cat follow.txt");
    await terminal.waitForText("follow-marker");
    await page.close();
  }, 300_000);
});

describe("the terminal status endpoint", () => {
  it("answers no foreign origin, no other user's grant and no unknown grant", async () => {
    const agentOrigin = `http://ws-${workspaceId}.localhost:4999`;
    const [grant] = await app.database.db.select().from(terminalGrants).limit(1);
    const foreign = await askStatus("https://evil.example", grant!.id);
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    const otherWorkspace = await askStatus(`http://ws-${randomUUID()}.localhost:4999`, grant!.id);
    expect(otherWorkspace.status).toBe(403);
    // A preflight from a foreign origin gets no permission either.
    const preflight = await fetch(statusUrl(), {
      method: "OPTIONS",
      headers: {
        origin: "https://evil.example",
        "access-control-request-headers": terminalGrantHeader,
      },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();

    // Another user's grant (Bob's own sign-in, recorded against Alice's workspace) is refused.
    const bob = await signUpOverHttp(app.baseUrl, "other-user");
    const [bobToken] = await bob.tokens.list.query();
    const { user: bobUser } = await bob.auth.me.query();
    const bobGrant = randomUUID();
    await app.database.db.insert(terminalGrants).values({
      id: bobGrant,
      workspaceId,
      userId: bobUser.id,
      sessionId: null,
      apiTokenId: bobToken!.id,
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const refused = await askStatus(agentOrigin, bobGrant);
    expect(refused.status).toBe(401);
    expect(JSON.stringify(await refused.json())).not.toContain(workspaceId);
    expect((await askStatus(agentOrigin, randomUUID())).status).toBe(401);
    expect((await askStatus(agentOrigin, "not-a-grant")).status).toBe(401);
    // Alice's own grant, from her workspace's agent origin (any port in this mode), is answered.
    const own = await askStatus(agentOrigin, grant!.id);
    expect(own.status).toBe(200);
    expect(own.headers.get("access-control-allow-origin")).toBe(agentOrigin);
  });
});

describe("the touch keys", () => {
  it("send Esc, Tab, a sticky Ctrl and the arrows on a narrow screen, and hide on a wide one", async () => {
    // The follow test left it running, or stopped again for idleness meanwhile.
    const { state } = await api.workspaces.get.query({ id: workspaceId });
    if (state !== "running") {
      await waitForWorkspace(api, workspaceId, "stopped");
      await api.workspaces.start.mutate({ id: workspaceId });
      await waitForWorkspace(api, workspaceId, "running");
    }
    const page = await context.newPage();
    await page.setViewportSize({ width: 375, height: 667 });
    const terminal = new TerminalPage(page);
    await terminal.open(`${app.baseUrl}${terminalLauncherPath(workspaceId, "keys")}`);
    expect(await terminal.keys.isVisible()).toBe(true);
    // Keys typed before the shell's first prompt may go to its start-up instead.
    await terminal.run("echo ready-$((1+1))");
    await terminal.waitForText("ready-2");
    // cat -A shows each byte it gets: Esc ^[, Tab ^I, Ctrl-A ^A, Left ^[[D, the line's end $.
    await terminal.run("cat -A");
    for (const key of ["Esc", "Tab", "Ctrl"]) await terminal.tapKey(key);
    expect(
      await terminal.keys.getByRole("button", { name: "Ctrl" }).getAttribute("aria-pressed"),
    ).toBe("true");
    await page.keyboard.type("a");
    expect(
      await terminal.keys.getByRole("button", { name: "Ctrl" }).getAttribute("aria-pressed"),
    ).toBe("false");
    await terminal.tapKey("Left");
    await page.keyboard.press("Enter");
    await terminal
      .waitForText("^[^I^A^[[D$")
      .catch((error: unknown) => showFailure(page, "terminal-touch-keys-failed", error));
    await page.screenshot({ path: await screenshotPath("terminal-touch-keys"), fullPage: true });
    // Ctrl then c is Ctrl-C: cat ends and the shell answers again.
    await terminal.tapKey("Ctrl");
    await page.keyboard.type("c");
    await terminal.run("echo after-$((40+2))");
    await terminal.waitForText("after-42");
    await page.setViewportSize({ width: 1280, height: 720 });
    await expect.poll(() => terminal.keys.isVisible()).toBe(false);
    await page.close();
  }, 120_000);
});
