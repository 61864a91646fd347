import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SettingsPage } from "./pages/settings-page.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

async function callMe(baseUrl: string, token: string) {
  const response = await fetch(`${baseUrl}/api/trpc/auth.me`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return {
    status: response.status,
    body: (await response.json()) as { result?: { data: { json: { user: { login: string } } } } },
  };
}

describe("sign in with GitHub, then use an API token", () => {
  let app: RunningApp;
  let browser: Browser;
  beforeAll(async () => {
    [app, browser] = await Promise.all([startApp(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it("signs in through the stand-in, creates a token, uses it, revokes it", async () => {
    const page = await browser.newPage();
    await new SignInPage(page).signInAs(app.baseUrl, "octo-dev");
    expect(await page.getByTestId("current-user").textContent()).toBe("octo-dev");
    await page.screenshot({ path: await screenshotPath("signed-in"), fullPage: true });

    const settings = new SettingsPage(page);
    await settings.open(app.baseUrl);
    const token = await settings.createToken("ci script");
    expect(token).toMatch(/^caw_/);
    await page.screenshot({ path: await screenshotPath("settings-token-created"), fullPage: true });

    const me = await callMe(app.baseUrl, token);
    expect(me.status).toBe(200);
    expect(me.body.result?.data.json.user.login).toBe("octo-dev");

    await settings.revokeToken("ci script");
    expect((await callMe(app.baseUrl, token)).status).toBe(401);
    const session = (await page.context().cookies()).find(
      (cookie) => cookie.name === "caw_session",
    );
    expect(session?.value.length).toBeGreaterThan(16);
    expect(app.launcher.output()).toContain('"path":"/settings"');
    for (const secret of [token, session!.value])
      expect(app.launcher.output()).not.toContain(secret);
  });

  it("lists the sessions of two browsers and signs one out from the other", async () => {
    const laptop = await browser.newContext({ userAgent: "Laptop Browser" });
    const phone = await browser.newContext({ userAgent: "Phone Browser" });
    const laptopPage = await laptop.newPage();
    const phonePage = await phone.newPage();
    await new SignInPage(laptopPage).signInAs(app.baseUrl, "two-devices");
    await new SignInPage(phonePage).signInAs(app.baseUrl, "two-devices");

    const settings = new SettingsPage(laptopPage);
    await settings.open(app.baseUrl);
    await settings.sessionRows.nth(1).waitFor();
    expect(await settings.sessionRows.count()).toBe(2);
    expect(await settings.sessionRows.filter({ hasText: "this browser" }).textContent()).toContain(
      "Laptop Browser",
    );
    await laptopPage.screenshot({
      path: await screenshotPath("settings-sessions"),
      fullPage: true,
    });
    await settings.signOutSession("Phone Browser");
    expect(await settings.sessionRows.count()).toBe(1);

    await phonePage.goto(`${app.baseUrl}/settings`);
    await phonePage.getByText("You are signed out").waitFor();
    await Promise.all([laptop.close(), phone.close()]);
  });

  it("signs out every browser at once", async () => {
    const [first, second] = [await browser.newContext(), await browser.newContext()];
    const [firstPage, secondPage] = [await first.newPage(), await second.newPage()];
    await new SignInPage(firstPage).signInAs(app.baseUrl, "everywhere");
    await new SignInPage(secondPage).signInAs(app.baseUrl, "everywhere");
    const settings = new SettingsPage(firstPage);
    await settings.open(app.baseUrl);
    await settings.signOutEverywhere();
    for (const page of [firstPage, secondPage]) {
      await page.goto(`${app.baseUrl}/settings`);
      await page.getByText("You are signed out").waitFor();
    }
    await Promise.all([first.close(), second.close()]);
  });
});
