import { eq, sql } from "drizzle-orm";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs } from "../db/schema.ts";
import { enqueueJob } from "../server/jobs/queue.ts";
import { AdminPage } from "./pages/admin-page.ts";
import { SignInPage } from "./pages/sign-in-page.ts";
import { screenshotPath, startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

describe("the admin dashboard", () => {
  let app: RunningApp;
  let browser: Browser;
  beforeAll(async () => {
    [app, browser] = await Promise.all([startApp(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  /** A real periodic kind whose handler succeeds, failed for good as if its worker had given up. */
  async function makeFailedJob(): Promise<number> {
    // Due in an hour, so no worker takes it before it is marked failed.
    const runAt = new Date(Date.now() + 60 * 60_000);
    const job = await enqueueJob(app.database.db, { kind: "workspaces.purge", runAt });
    await app.database.db
      .update(jobs)
      .set({
        status: "failed",
        attempts: sql`${jobs.maxAttempts}`,
        lastError: "simulated failure",
        finishedAt: sql`now()`,
      })
      .where(eq(jobs.id, job.id));
    return job.id;
  }

  it("shows members no Admin link and refuses them the admin API", async () => {
    // The first user of an install is its admin: sign them in before anyone else.
    const adminContext = await browser.newContext();
    const adminPage = await adminContext.newPage();
    await new SignInPage(adminPage).signInAs(app.baseUrl, "the-admin");
    await adminPage.getByTestId("admin-link").waitFor();

    const memberContext = await browser.newContext();
    const memberPage = await memberContext.newPage();
    await new SignInPage(memberPage).signInAs(app.baseUrl, "a-member");
    expect(await memberPage.getByTestId("admin-link").count()).toBe(0);
    const stats = await memberPage.request.get(`${app.baseUrl}/api/trpc/admin.stats`);
    expect(stats.status()).toBe(403);
    await memberPage.goto(`${app.baseUrl}/admin`);
    await memberPage.getByRole("heading", { name: "Admins only" }).waitFor();
    await Promise.all([adminContext.close(), memberContext.close()]);
  });

  it("lets the admin retry a failed job and see it succeed", async () => {
    const jobId = await makeFailedJob();
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await new SignInPage(page).signInAs(app.baseUrl, "the-admin");
    await page.getByTestId("admin-link").click();

    const admin = new AdminPage(page);
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    await admin.filterByKind("workspaces.purge");
    await admin.waitForJobStatus(jobId, "failed");
    await admin.openJob(jobId);
    expect(await page.getByTestId("job-last-error").textContent()).toBe("simulated failure");
    await admin.retryOpenJob();
    await admin.waitForJobStatus(jobId, "succeeded");
    await page.locator('[data-testid="job-detail"][data-status="succeeded"]').waitFor();
    await admin.throughputSummary.waitFor();

    await page.reload();
    await page.getByRole("heading", { name: "Audit log" }).waitFor();
    await admin.auditRows.filter({ hasText: "admin.job.retry" }).first().waitFor();
    expect(await admin.verifyAuditChain()).toContain("The chain is intact");
    expect(await admin.userRows.count()).toBe(2);
    await admin.openJob(jobId);
    await page.screenshot({ path: await screenshotPath("admin"), fullPage: true });

    // Narrow phones: the tables scroll inside their cards, the page itself does not.
    await page.setViewportSize({ width: 375, height: 800 });
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBe(0);
    await page.screenshot({ path: await screenshotPath("admin-narrow"), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });
});
