import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repositoryPath } from "../server/github-stand-in/repos.ts";
import { runGit } from "../server/github-stand-in/run-git.ts";
import { sampleRepository } from "../server/github-stand-in/seed.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { WorkspacesPage } from "./pages/workspaces-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

// Issue #14, honest create, in Chromium against the one-machine mode: a branch GitHub does not
// have is refused by name with its close matches before anything is queued; a branch deleted
// between the create and the clone puts the workspace in `error` with git's own message,
// instead of `running` over an empty folder.

let app: RunningApp;
let browser: Browser;
let dataDir: string;
const repository = `${sampleRepository.owner}/${sampleRepository.name}`;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-honest-create-"));
  // Passable by the workspaces' own OS users when run as root (mkdtemp makes 0700).
  await chmod(dataDir, 0o711);
  [app, browser] = await Promise.all([startApp({ DATA_DIR: dataDir }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** The sample repository's folder at the launcher's GitHub stand-in. */
const sampleGitDir = () => repositoryPath(path.join(dataDir, "github", "repos"), sampleRepository);

async function fillForm(page: Page, name: string, branch: string): Promise<void> {
  await page.getByRole("link", { name: "New workspace" }).click();
  const picker = page.getByLabel("Repository");
  await picker.locator(`option[value="${repository}"]`).waitFor({ state: "attached" });
  await picker.selectOption(repository);
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Branch").fill(branch);
  await page.getByRole("button", { name: "Create workspace" }).click();
}

describe("honest create", () => {
  it("refuses a missing branch by name, and shows a failed clone as error with git's message", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await new SignInPage(page).signInAs(app.baseUrl, "honest-dev");
    const workspaces = new WorkspacesPage(page);
    await workspaces.openList(app.baseUrl);

    await fillForm(page, "typo", "mian");
    // A field error, beside the Branch field (the form's field errors, issue #14).
    const branchError = page.getByTestId("branch-error");
    await branchError.waitFor();
    expect(await branchError.textContent()).toContain(
      `${repository} has no branch "mian" on GitHub`,
    );
    expect(await branchError.textContent()).toContain("Pick one of: main");
    expect(page.url()).toMatch(/\/workspaces\/new$/);
    await page.screenshot({ path: await screenshotPath("honest-create-missing-branch") });

    // The branch exists at the create check and is gone when the agent clones it.
    await runGit([`--git-dir=${sampleGitDir()}`, "branch", "doomed", "main"]);
    await workspaces.openList(app.baseUrl);
    await fillForm(page, "doomed", "doomed");
    await page.waitForURL(/\/workspaces\/[0-9a-f-]{36}$/);
    await runGit([`--git-dir=${sampleGitDir()}`, "branch", "-D", "doomed"]);
    await workspaces.waitForState("error");
    const reason = page.getByTestId("state-reason");
    await reason.waitFor();
    expect(await reason.textContent()).toContain("couldn't find remote ref refs/heads/doomed");
    await expect(page.getByRole("link", { name: "Open terminal" }).count()).resolves.toBe(0);
    // The boot steps say where it stopped, in git's words.
    const cloning = page.locator('[data-testid="boot-steps"] [data-step="cloning"]');
    await page.locator('[data-step="cloning"][data-state="failed"]').waitFor({ timeout: 5_000 });
    expect(await cloning.textContent()).toContain("couldn't find remote ref refs/heads/doomed");
    expect(await page.locator('[data-step="ready"]').getAttribute("data-state")).toBe("waiting");
    await page.screenshot({ path: await screenshotPath("honest-create-clone-failed") });
  });

  it("shows a good create's boot as steps, each with its time, up to ready", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await new SignInPage(page).signInAs(app.baseUrl, "steps-dev");
    const workspaces = new WorkspacesPage(page);
    await workspaces.openList(app.baseUrl);
    await fillForm(page, "steps", "main");
    await page.waitForURL(/\/workspaces\/[0-9a-f-]{36}$/);
    await workspaces.waitForState("running");
    await page.locator('[data-step="ready"][data-state="done"]').waitFor({ timeout: 5_000 });
    const states = await page
      .locator("[data-testid=boot-steps] li")
      .evaluateAll((items) =>
        items.map((item) => `${item.getAttribute("data-step")} ${item.getAttribute("data-state")}`),
      );
    expect(states).toEqual([
      "queued done",
      "creating-server done",
      // The one-machine mode has no bootstrap script: nothing to boot or install.
      "booting skipped",
      "installing-agent skipped",
      "cloning done",
      "devcontainer skipped",
      "ready done",
    ]);
    expect(await page.locator('[data-step="cloning"]').textContent()).toMatch(
      /\d+:\d+:\d+.*\d s\)/,
    );
    await page.screenshot({ path: await screenshotPath("boot-steps-running"), fullPage: true });
  });
});
