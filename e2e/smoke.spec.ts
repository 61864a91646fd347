import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../server/testing/program.ts";
import { HomePage } from "./pages/home-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

describe("smoke: the home page in a real browser", () => {
  let app: RunningApp;
  let browser: Browser;
  beforeAll(async () => {
    [app, browser] = await Promise.all([startApp(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it("shows system.info fetched through tRPC and React Query", async () => {
    const manifest = JSON.parse(await readFile(path.join(projectRoot, "package.json"), "utf8")) as {
      version: string;
    };
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const home = new HomePage(page);
    await home.open(app.baseUrl);
    expect(await home.waitForSystemInfo()).toBe("ready");
    expect(await home.version.textContent()).toBe(manifest.version);
    expect(await home.databaseStatus.textContent()).toBe("ok");
    await page.screenshot({ path: await screenshotPath("home"), fullPage: true });
    expect(errors).toEqual([]);
  });

  it("shows the failure and a retry when the control plane cannot answer", async () => {
    const page = await browser.newPage();
    await page.route("**/api/trpc/**", (route) =>
      route.fulfill({ status: 502, body: "bad gateway" }),
    );
    const home = new HomePage(page);
    await home.open(app.baseUrl);
    expect(await home.waitForSystemInfo()).toBe("error");
    await expect(page.getByRole("button", { name: "Try again" }).isVisible()).resolves.toBe(true);
  });
});
