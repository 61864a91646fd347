import type { Page } from "playwright-core";
import { waitForHydration } from "./hydration.ts";

/** What the workspace list and a workspace's page show live (ADR 0021), read from outside. */
export class LiveWorkspacePage {
  constructor(private readonly page: Page) {}

  async openWorkspace(baseUrl: string, id: string): Promise<void> {
    await this.page.goto(`${baseUrl}/workspaces/${id}`);
    await waitForHydration(this.page);
  }

  async openList(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/workspaces`);
    await waitForHydration(this.page);
  }

  /** Waits until changes arrive by push ("on") or the page polls ("off"). */
  async waitForLive(state: "on" | "off" = "on", timeoutMs = 10_000): Promise<void> {
    await this.page
      .locator(`[data-testid="live-status"][data-live="${state}"]`)
      .waitFor({ state: "attached", timeout: timeoutMs });
  }

  /** The state badge beside the workspace page's title. */
  async waitForState(state: string, timeoutMs: number): Promise<void> {
    await this.page.locator(`h1 + [data-state="${state}"]`).waitFor({ timeout: timeoutMs });
  }

  /** The state badge of `name`'s row on the list. */
  async waitForRowState(name: string, state: string, timeoutMs: number): Promise<void> {
    await this.page
      .getByTestId("workspace-row")
      .filter({ hasText: name })
      .locator(`[data-state="${state}"]`)
      .waitFor({ timeout: timeoutMs });
  }

  /** The state the timeline's last entry went to. */
  async waitForTimelineToEndWith(state: string, timeoutMs: number): Promise<void> {
    await this.page
      .locator(`[data-testid="timeline"] > li:last-child[data-state="${state}"]`)
      .waitFor({ timeout: timeoutMs });
  }

  timelineStates(): Promise<string[]> {
    return this.page
      .locator('[data-testid="timeline"] > li')
      .evaluateAll((items) => items.map((item) => item.getAttribute("data-state") ?? ""));
  }

  monthCost() {
    return this.page.getByTestId("month-cost");
  }

  notFound() {
    return this.page.getByTestId("workspace-not-found");
  }

  /** Marks the document; `wasReloaded` answers true once another document replaced it. */
  async markDocument(): Promise<void> {
    await this.page.evaluate(() => {
      (window as unknown as { liveMark?: boolean }).liveMark = true;
    });
  }

  async wasReloaded(): Promise<boolean> {
    return this.page.evaluate(() => !(window as unknown as { liveMark?: boolean }).liveMark);
  }
}
