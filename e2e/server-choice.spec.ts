import { randomBytes } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { startFakeHetzner, type FakeHetzner } from "./fakes/hetzner.ts";
import { waitForHydration } from "./pages/hydration.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

// Issue #13 in Chromium: the new-workspace form offers what the user's own Hetzner project
// (the fake, over real HTTP) takes orders for: pick a type, see only its locations, each with
// its price there; a deprecated type is not there at all.

const token = randomBytes(48).toString("hex").slice(0, 64);
let fake: FakeHetzner;
let app: RunningApp;
let browser: Browser;

beforeAll(async () => {
  fake = await startFakeHetzner({ token });
  [app, browser] = await Promise.all([
    startApp({ WORKSPACE_PROVIDER: "hetzner", HETZNER_API_URL: fake.url }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await fake?.close();
});

const optionValues = (page: Page, select: string) =>
  page
    .locator(`select[name="${select}"] option`)
    .evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value));
const chosenLabel = (page: Page, select: string) =>
  page
    .locator(`select[name="${select}"]`)
    .evaluate((element) => (element as HTMLSelectElement).selectedOptions[0]?.textContent ?? "");

describe("the new-workspace form", () => {
  it("offers each type only where Hetzner sells it, with its price there", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await new SignInPage(page).signInAs(app.baseUrl, "catalogue-dev");
    await page.goto(`${app.baseUrl}/settings`);
    await waitForHydration(page);
    await page.locator('input[name="token"]').fill(token);
    await page.locator('input[name="token"]').press("Enter");
    await page.locator("code", { hasText: token.slice(-4) }).waitFor();

    await page.goto(`${app.baseUrl}/workspaces/new`);
    await waitForHydration(page);
    await page.locator('select[name="serverType"] option[value="cx23"]').waitFor({
      state: "attached",
    });
    // cx23 in fsn1 by default, priced in euros; the retired cx22 is not offered.
    expect(await page.locator('select[name="serverType"]').inputValue()).toBe("cx23");
    expect(await page.locator('select[name="location"]').inputValue()).toBe("fsn1");
    expect(await optionValues(page, "serverType")).not.toContain("cx22");
    expect(await chosenLabel(page, "serverType")).toMatch(
      /cx23 — 2 cores, 4 GB RAM, 40 GB disk · from €0\.\d{4}\/h/,
    );
    expect(await chosenLabel(page, "location")).toMatch(
      /fsn1 — Falkenstein, DE · €0\.\d{4}\/h · €\d+\.\d\d\/month/,
    );
    await expect
      .poll(() => page.getByTestId("offer-price").textContent())
      .toMatch(/^€0\.\d{4}\/h while it runs/);

    // Arm is EU-only: its locations are Falkenstein, Nuremberg and Helsinki.
    await page.locator('select[name="serverType"]').selectOption("cax11");
    expect(await optionValues(page, "location")).toEqual(["fsn1", "nbg1", "hel1"]);

    // A shared x86 CPX is sold everywhere, dearer in Ashburn than in Falkenstein.
    await page.locator('select[name="serverType"]').selectOption("cpx22");
    expect(await optionValues(page, "location")).toEqual([
      "fsn1",
      "nbg1",
      "hel1",
      "ash",
      "hil",
      "sin",
    ]);
    const hourly = async (location: string) => {
      await page.locator('select[name="location"]').selectOption(location);
      const label = await chosenLabel(page, "location");
      return Number(/€(\d+\.\d+)\/h/.exec(label)![1]);
    };
    expect(await hourly("ash")).toBeGreaterThan(await hourly("fsn1"));

    // Back to an EU-only type from Ashburn: the location moves to one where it is sold.
    await page.locator('select[name="location"]').selectOption("ash");
    await page.locator('select[name="serverType"]').selectOption("cax21");
    expect(await page.locator('select[name="location"]').inputValue()).toBe("fsn1");
    await page.screenshot({
      path: await screenshotPath("new-workspace-catalogue"),
      fullPage: true,
    });

    const picker = page.getByLabel("Repository");
    const repository = `${sampleRepository.owner}/${sampleRepository.name}`;
    await picker.locator(`option[value="${repository}"]`).waitFor({ state: "attached" });
    await picker.selectOption(repository);
    await page.getByRole("button", { name: "Create workspace" }).click();
    await page.waitForURL(/\/workspaces\/[0-9a-f-]{36}$/);
    await page.getByText("cax21 in fsn1 (hetzner)").waitFor();
    await page.getByTestId("workspace-cost").waitFor();
  });
});
