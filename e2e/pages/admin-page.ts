import type { Locator, Page } from "playwright-core";
import { waitForHydration } from "./hydration.ts";

/** The admin dashboard: queue, throughput, jobs with their detail, users, audit log. */
export class AdminPage {
  readonly jobDetail: Locator;
  readonly throughputSummary: Locator;
  readonly userRows: Locator;
  readonly auditRows: Locator;

  constructor(private readonly page: Page) {
    this.jobDetail = page.getByTestId("job-detail");
    this.throughputSummary = page.getByTestId("throughput-summary");
    this.userRows = page.getByTestId("user-row");
    this.auditRows = page.getByTestId("audit-row");
  }

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/admin`);
    await waitForHydration(this.page);
    await this.page.getByRole("heading", { name: "Jobs" }).waitFor();
  }

  jobRow(id: number): Locator {
    return this.page.locator(`[data-testid="job-row"][data-job-id="${id}"]`);
  }

  async filterByKind(kind: string): Promise<void> {
    await this.page.getByLabel("Kind").fill(kind);
    await this.page.getByRole("button", { name: "Filter" }).click();
  }

  async openJob(id: number): Promise<void> {
    await this.jobRow(id)
      .getByRole("button", { name: `Details of job #${id}` })
      .click();
    await this.page.getByRole("heading", { name: `Job #${id}` }).waitFor();
  }

  /** Presses Retry in the open job's detail and confirms. */
  async retryOpenJob(): Promise<void> {
    await this.jobDetail.getByRole("button", { name: "Retry" }).click();
    await this.jobDetail.getByRole("button", { name: "Yes, retry" }).click();
  }

  /** Waits until the job's row in the table shows `status` (the table refreshes by itself). */
  async waitForJobStatus(id: number, status: string, timeout = 30_000): Promise<void> {
    await this.page
      .locator(`[data-testid="job-row"][data-job-id="${id}"][data-status="${status}"]`)
      .waitFor({ timeout });
  }

  /** Runs "Verify chain" and returns what the page says about the audit chain. */
  async verifyAuditChain(): Promise<string> {
    await this.page.getByRole("button", { name: "Verify chain" }).click();
    const result = this.page.locator('[data-testid="audit-verify"]:not(:empty)');
    await result.waitFor();
    return (await result.textContent()) ?? "";
  }
}
