import type { Locator, Page } from "playwright-core";
import { waitForHydration } from "./hydration.ts";

/** The landing page: what the control plane says about itself. */
export class HomePage {
  readonly systemInfo: Locator;
  readonly version: Locator;
  readonly databaseStatus: Locator;

  constructor(private readonly page: Page) {
    this.systemInfo = page.getByTestId("system-info");
    this.version = page.getByTestId("system-version");
    this.databaseStatus = page.getByTestId("database-status");
  }

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/`);
    await waitForHydration(this.page);
  }

  /** Waits until system.info has answered (or failed) and returns which. */
  async waitForSystemInfo(): Promise<string | null> {
    await this.page.locator('[data-testid="system-info"]:not([data-status="loading"])').waitFor();
    return this.systemInfo.getAttribute("data-status");
  }
}
