import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { NewWorkspacePage } from "./pages/new-workspace-page.ts";
import { SettingsPage } from "./pages/settings-page.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

// Issue #14, the form in the one-machine mode: what the machine is instead of Hetzner's codes,
// no Hetzner settings, a submit button that says why it is disabled, and the server's field
// errors beside their fields until the field is edited.

let app: RunningApp;
let browser: Browser;
let page: Page;
let form: NewWorkspacePage;
const repository = `${sampleRepository.owner}/${sampleRepository.name}`;

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp({ WORKSPACE_PROVIDER: "local" }), launchBrowser()]);
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await new SignInPage(page).signInAs(app.baseUrl, "form-dev");
  form = new NewWorkspacePage(page);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe("the new-workspace form on one machine", () => {
  it("says what the machine is, with no Hetzner codes", async () => {
    await form.open(app.baseUrl);
    await form.thisMachine.waitFor();
    expect(await form.thisMachine.textContent()).toMatch(
      /^Runs on this machine \(\d+ cores, \d+ GB RAM, shared with it\)\. No charge/,
    );
    expect(await form.serverType.count()).toBe(0);
    const text = (await page.locator("main").textContent()) ?? "";
    expect(text).not.toMatch(/cx23|fsn1/);
  });

  it("disables the submit button until a repository is picked, and says why", async () => {
    await form.open(app.baseUrl);
    await form.thisMachine.waitFor();
    expect(await form.submit.isDisabled()).toBe(true);
    expect(await form.waitingFor.textContent()).toBe("Pick a repository first.");
    await form.pickRepository(repository);
    await expect.poll(() => form.submit.isDisabled()).toBe(false);
    expect(await form.waitingFor.textContent()).toBe("");
  });

  it("puts the server's error beside its field and clears it once the field is edited", async () => {
    await form.open(app.baseUrl);
    await form.pickRepository(repository);
    await form.branch.fill("no..such-branch");
    await form.submit.click();
    const branchError = form.fieldError("branch");
    await branchError.waitFor();
    expect(await branchError.textContent()).toMatch(/^A branch name /);
    expect(await form.branch.getAttribute("aria-invalid")).toBe("true");
    // Said beside the field, not a second time under the form.
    expect(await form.formError.count()).toBe(0);
    await page.screenshot({ path: await screenshotPath("new-workspace-field-error") });

    await form.branch.fill("main");
    await branchError.waitFor({ state: "detached" });
    expect(await form.branch.getAttribute("aria-invalid")).toBeNull();
    // Back to the value the server refused: its word on that value holds again.
    await form.branch.fill("no..such-branch");
    await branchError.waitFor();
  });
});

describe("settings on one machine", () => {
  it("has no Hetzner token section", async () => {
    await new SettingsPage(page).open(app.baseUrl);
    await page.getByRole("heading", { name: "Secrets" }).waitFor();
    expect(await page.getByRole("heading", { name: "Hetzner Cloud token" }).count()).toBe(0);
    expect(await page.locator('input[name="token"]').count()).toBe(0);
  });
});
