import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { WorkspacesPage } from "./pages/workspaces-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";
import { photographEachWay, showPage } from "./support/page-gallery.ts";

// Issue #6's journey in Chromium against the one-machine mode: sign in through the GitHub
// stand-in, create a workspace from the sample repository, use its terminal, stop and start
// it (a file survives), delete it. Every page is photographed into e2e/artifacts/, at 1280 and
// 375 px, light and dark (issue #14).

let app: RunningApp;
let browser: Browser;
beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe("a workspace from sign-in to deletion", () => {
  it("creates, runs, uses, stops, starts and deletes a workspace", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    const shot = async (name: string) =>
      void (await page.screenshot({ path: await screenshotPath(name), fullPage: true }));
    await new SignInPage(page).signInAs(app.baseUrl, "journey-dev");
    const workspaces = new WorkspacesPage(page);
    await workspaces.openList(app.baseUrl);
    await workspaces.emptyState().waitFor();
    await shot("workspaces-empty");

    await workspaces.create(`${sampleRepository.owner}/${sampleRepository.name}`);
    await workspaces.waitForState("running");
    await shot("workspace-running");
    await photographEveryPage(page, page.url());

    const first = await workspaces.openTerminal();
    await first.terminal.run("git log -1 --format=%s");
    await first.terminal.waitForText(sampleRepository.commitSubject);
    await first.terminal.run("echo kept-across-stop > notes.txt && echo written");
    await first.terminal.waitForText("written");
    await first.tab.screenshot({ path: await screenshotPath("journey-terminal") });
    // The terminal's link is for one sign-in: it is photographed as it is, without reloads.
    await photographEachWay(first.tab, "page-terminal", async () => {
      await first.terminal.waitForText("written");
    });
    await first.tab.close();

    await workspaces.stop();
    await workspaces.waitForState("stopped");
    await shot("workspace-stopped");
    await workspaces.start();
    await workspaces.waitForState("running");
    const second = await workspaces.openTerminal();
    await second.terminal.run("cat notes.txt");
    await second.terminal.waitForText("kept-across-stop");
    await second.tab.close();

    await workspaces.delete(sampleRepository.name);
    await workspaces.emptyState().waitFor({ timeout: 60_000 });
    await shot("workspaces-after-delete");

    // A phone: every page must fit 375 px without sideways scrolling.
    await page.setViewportSize({ width: 375, height: 800 });
    for (const path of ["/", "/workspaces", "/workspaces/new", "/settings"]) {
      await page.goto(`${app.baseUrl}${path}`);
      await page.locator("main h1").first().waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, `${path} is ${width}px wide`).toBeLessThanOrEqual(375);
    }
    await shot("new-workspace-375px");
    // Longer than the default: the gallery photographs each page four ways.
  }, 300_000);
});

/** Issue #14's gallery: each page of the app, signed in (as the install's admin) and out. */
async function photographEveryPage(page: Page, workspaceUrl: string): Promise<void> {
  const pages = {
    home: "/",
    workspaces: "/workspaces",
    "new-workspace": "/workspaces/new",
    workspace: workspaceUrl,
    settings: "/settings",
    admin: "/admin",
    "not-found": "/no-such-page",
  };
  for (const [name, path] of Object.entries(pages)) {
    const url = path.startsWith("http") ? path : `${app.baseUrl}${path}`;
    await photographEachWay(page, `page-${name}`, () => showPage(page, url));
  }
  const signedOut = await browser.newPage();
  await photographEachWay(signedOut, "page-sign-in", () =>
    showPage(signedOut, `${app.baseUrl}/login`),
  );
  await signedOut.close();
  await page.setViewportSize({ width: 1100, height: 800 });
  await page.emulateMedia({ colorScheme: "light" });
  await showPage(page, workspaceUrl);
}
