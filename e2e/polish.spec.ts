import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { ConfirmDialogPage } from "./pages/confirm-dialog.ts";
import { waitForHydration } from "./pages/hydration.ts";
import { SettingsPage } from "./pages/settings-page.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { SiteChrome } from "./pages/site-chrome.ts";
import { WorkspacesPage } from "./pages/workspaces-page.ts";
import { startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

// Issue #14, deliverable 6: the polish a new user notices first, in Chromium against the
// one-machine mode (local workspaces, the GitHub stand-in).

let app: RunningApp;
let browser: Browser;
let admin: BrowserContext;
beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchBrowser()]);
  // The first user of an install is its admin.
  admin = await browser.newContext();
  await new SignInPage(await admin.newPage()).signInAs(app.baseUrl, "polish-admin");
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

const logLinesFor = (path: string) =>
  app.launcher
    .output()
    .split("\n")
    .filter((line) => line.includes(`"path":"${path}"`) || line.includes(path));

async function signedInPage(login: string, options = {}): Promise<Page> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  await new SignInPage(page).signInAs(app.baseUrl, login);
  return page;
}

describe("favicon, 404 and the error boundary", () => {
  it("serves the favicon every page links to", async () => {
    const icon = await fetch(`${app.baseUrl}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toContain("image/svg+xml");
    expect(await icon.text()).toContain("<svg");
    const page = await admin.newPage();
    await page.goto(`${app.baseUrl}/workspaces`);
    expect(await page.locator('link[rel="icon"]').getAttribute("href")).toBe("/favicon.svg");
    await page.close();
  });

  it("answers an unknown address with a styled 404 in the app, logged at info", async () => {
    const page = await admin.newPage();
    const response = await page.goto(`${app.baseUrl}/no-such-page`);
    expect(response?.status()).toBe(404);
    const chrome = new SiteChrome(page);
    await expect.poll(() => chrome.errorPage.getAttribute("data-status")).toBe("404");
    await page.getByRole("heading", { name: "Page not found" }).waitFor();
    // Inside the app: the header knows who is signed in.
    await page.getByTestId("current-user").waitFor();
    await waitForHydration(page);
    await page.getByRole("link", { name: "Go to the start page" }).click();
    await page.waitForURL(`${app.baseUrl}/`);
    await page.close();

    await expect.poll(() => logLinesFor("/no-such-page").length).toBeGreaterThan(0);
    for (const line of logLinesFor("/no-such-page")) {
      expect(line).toContain('"level":"info"');
      expect(line).toContain('"status":404');
      expect(line).not.toContain("stack");
    }
    expect(app.launcher.output()).not.toContain("No route matches");
  });

  it("shows the root error boundary, styled with a way home, when no route can answer", async () => {
    const page = await admin.newPage();
    await page.goto(`${app.baseUrl}/`);
    await waitForHydration(page);
    // A page without an action cannot take a POST: Remix answers 405 through the root boundary.
    const answered = page.waitForResponse((response) => response.request().method() === "POST");
    await page.evaluate(() => {
      const form = Object.assign(document.createElement("form"), {
        method: "post",
        action: "/workspaces",
      });
      document.body.append(form);
      form.submit();
    });
    expect((await answered).status()).toBe(405);
    const chrome = new SiteChrome(page);
    await expect.poll(() => chrome.errorPage.getAttribute("data-status")).toBe("405");
    await page.getByRole("heading", { name: /^405/ }).waitFor();
    await page.getByRole("link", { name: "Go to the start page" }).click();
    await page.waitForURL(`${app.baseUrl}/`);
    await page.close();
  });

  it("shows the root error boundary when a page throws while rendering", async () => {
    const page = await admin.newPage();
    // system.info answers without its database field: the home page's card cannot render.
    let broken = true;
    await page.route("**/api/trpc/**", async (route) => {
      const procedures = new URL(route.request().url()).pathname.split("/").pop()!.split(",");
      const index = procedures.indexOf("system.info");
      if (!broken || index < 0) return route.continue();
      const response = await route.fetch();
      const body = (await response.json()) as unknown[];
      body[index] = { result: { data: { json: { name: "broken" } } } };
      await route.fulfill({ response, json: body });
    });
    await page.goto(`${app.baseUrl}/`);
    const chrome = new SiteChrome(page);
    await expect.poll(() => chrome.errorPage.getAttribute("data-status")).toBe("500");
    await page.getByRole("heading", { name: "Something went wrong" }).waitFor();
    broken = false;
    await page.getByRole("link", { name: "Go to the start page" }).click();
    await page.getByTestId("system-info").and(page.locator('[data-status="ready"]')).waitFor();
    await page.close();
  });
});

describe("sign-in returns to where the user was", () => {
  it("comes back to the page the header's Sign in was pressed on", async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${app.baseUrl}/settings?tab=tokens`);
    await waitForHydration(page);
    await page.getByText("You are signed out").waitFor();
    await new SiteChrome(page).signInFromHeader("returning-dev");
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe("/settings?tab=tokens");
    await page.getByRole("heading", { name: "API tokens" }).waitFor();
    await page.context().close();
  });

  it("comes back from the signed-out notice's own link too", async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${app.baseUrl}/workspaces/new`);
    await waitForHydration(page);
    await page.getByRole("main").getByRole("link", { name: "Sign in" }).click();
    await new SiteChrome(page).authorizeAs("returning-dev");
    expect(new URL(page.url()).pathname).toBe("/workspaces/new");
    await page.context().close();
  });

  it.each(["//evil.example/steal", "https://evil.example/", "/\\evil.example", "/.//evil.example"])(
    "refuses to send sign-in to %s (open redirect) and lands on the start page",
    async (target) => {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${app.baseUrl}/login?redirectTo=${encodeURIComponent(target)}`);
      await new SiteChrome(page).authorizeAs("redirect-target");
      expect(page.url()).toBe(`${app.baseUrl}/`);
      await page.context().close();
    },
  );
});

describe("copy buttons", () => {
  it("copies the one-time token with the Clipboard API and says Copied", async () => {
    const page = await signedInPage("copy-dev", {
      permissions: ["clipboard-read", "clipboard-write"],
    });
    const settings = new SettingsPage(page);
    await settings.open(app.baseUrl);
    const token = await settings.createToken("copied");
    const copy = page.getByRole("button", { name: "Copy the token" });
    await copy.click();
    await expect.poll(() => copy.textContent()).toBe("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
    await page.context().close();
  });

  it("selects the token for a manual copy when the browser allows no copying", async () => {
    const context = await browser.newContext();
    // As on plain http from another machine: no Clipboard API, and the copy command refused.
    await context.addInitScript(() => {
      Object.defineProperty(navigator, "clipboard", { value: undefined });
      document.execCommand = () => false;
    });
    const page = await context.newPage();
    await new SignInPage(page).signInAs(app.baseUrl, "copy-dev");
    const settings = new SettingsPage(page);
    await settings.open(app.baseUrl);
    const token = await settings.createToken("by hand");
    await page.getByRole("button", { name: "Copy the token" }).click();
    await page.getByText("it is selected, press Ctrl+C").waitFor();
    expect(await page.evaluate(() => window.getSelection()?.toString())).toBe(token);
    await context.close();
  });
});

describe("confirmation dialogs", () => {
  it("asks before revoking a token; Cancel keeps it", async () => {
    const page = await signedInPage("revoke-dev");
    const settings = new SettingsPage(page);
    await settings.open(app.baseUrl);
    await settings.createToken("kept");
    await page.getByRole("button", { name: "Revoke kept" }).click();
    const dialog = new ConfirmDialogPage(page, "Revoke kept?");
    await dialog.dialog.waitFor();
    await dialog.cancel();
    expect(await settings.newToken.count()).toBe(1);
    await page.getByRole("button", { name: "Revoke kept" }).waitFor();
    await settings.revokeToken("kept");
    await page.getByTestId("token-row").filter({ hasText: "revoked" }).waitFor();
    await page.context().close();
  });

  it("keeps Delete disabled until the workspace's name is typed, then deletes", async () => {
    const page = await admin.newPage();
    const workspaces = new WorkspacesPage(page);
    await workspaces.openList(app.baseUrl);
    await workspaces.create(`${sampleRepository.owner}/${sampleRepository.name}`);
    await workspaces.waitForState("running");
    const name = sampleRepository.name;

    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = new ConfirmDialogPage(page, `Delete ${name}?`);
    const confirm = dialog.button("Delete");
    expect(await confirm.isDisabled()).toBe(true);
    expect(await dialog.why.textContent()).toContain("until you type the name");
    await dialog.nameInput.fill(`${name.toUpperCase()}x`);
    expect(await confirm.isDisabled()).toBe(true);
    expect(await dialog.why.textContent()).toContain(`type ${name} exactly`);
    // Enter with the wrong name does nothing either; Esc closes the dialog and nothing happens.
    await dialog.nameInput.press("Enter");
    await page.keyboard.press("Escape");
    await dialog.dialog.waitFor({ state: "hidden" });
    await workspaces.waitForState("running");

    await page.getByRole("button", { name: "Delete", exact: true }).click();
    expect(await dialog.nameInput.inputValue()).toBe("");
    await dialog.nameInput.fill(name);
    expect(await confirm.isDisabled()).toBe(false);
    await confirm.click();
    await page.waitForURL(/\/workspaces$/);
    await workspaces.emptyState().waitFor({ timeout: 60_000 });
    await page.close();
  });
});

describe("small screens and the one-machine banner", () => {
  it("fits the header and the admin tables into 375 px", async () => {
    const page = await admin.newPage();
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${app.baseUrl}/admin`);
    await waitForHydration(page);
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    await page.getByTestId("user-row").first().waitFor();
    const chrome = new SiteChrome(page);
    expect(await SiteChrome.lineCount(chrome.signOut)).toBe(1);
    const header = await chrome.header.evaluate((element) => ({
      scroll: element.scrollWidth,
      client: element.clientWidth,
    }));
    expect(header.scroll).toBeLessThanOrEqual(header.client);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      375,
    );
    const tables = await page.locator(".data-table").evaluateAll((elements) =>
      elements.map((table) => {
        const box = table.parentElement!;
        const style = getComputedStyle(box);
        return {
          fits: table.scrollWidth <= box.clientWidth,
          scrolls: ["auto", "scroll"].includes(style.overflowX),
          right: box.getBoundingClientRect().right,
        };
      }),
    );
    expect(tables.length).toBeGreaterThan(0);
    for (const table of tables) {
      expect(table.fits || table.scrolls).toBe(true);
      expect(table.right).toBeLessThanOrEqual(375);
    }
    await page.close();
  });

  it("says in the header that this is a local demo where any GitHub login works", async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${app.baseUrl}/login`);
    const banner = new SiteChrome(page).demoBanner;
    expect(await banner.textContent()).toMatch(/Local demo.*any GitHub login works/);
    await page.context().close();
  });
});

describe("buttons", () => {
  it.each(["light", "dark"] as const)(
    "gives primary links and primary buttons one look, and disabled a look of its own (%s)",
    async (colorScheme) => {
      const page = await admin.newPage();
      await page.emulateMedia({ colorScheme });
      await page.goto(`${app.baseUrl}/`);
      const link = page.getByRole("link", { name: "Your workspaces" });
      const looks = (element: Element) => {
        const style = getComputedStyle(element);
        return { background: style.backgroundColor, color: style.color };
      };
      const linkLook = await link.evaluate(looks);
      await page.goto(`${app.baseUrl}/settings`);
      await waitForHydration(page);
      const create = page.getByRole("button", { name: "Create token" });
      expect(await create.evaluate(looks)).toEqual(linkLook);
      const cardBackground = await page
        .locator(".card")
        .first()
        .evaluate((element) => getComputedStyle(element).backgroundColor);
      expect(linkLook.background).not.toBe(cardBackground);
      await create.evaluate((element) => element.setAttribute("disabled", ""));
      expect((await create.evaluate(looks)).background).not.toBe(linkLook.background);
      await page.close();
    },
  );
});
