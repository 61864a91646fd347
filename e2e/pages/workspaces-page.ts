import type { Page } from "playwright-core";
import { TerminalPage } from "./terminal-page.ts";

/** The workspaces list, the new-workspace form and a workspace's page. */
export class WorkspacesPage {
  constructor(private readonly page: Page) {}

  async openList(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/workspaces`);
    await this.page.getByRole("heading", { name: "Workspaces", exact: true }).waitFor();
  }

  emptyState() {
    return this.page.getByTestId("workspaces-empty");
  }

  /** Fills the form from the list page and lands on the new workspace's page. */
  async create(repository: string): Promise<void> {
    await this.page.getByRole("link", { name: "New workspace" }).click();
    const picker = this.page.getByLabel("Repository");
    await picker.locator(`option[value="${repository}"]`).waitFor({ state: "attached" });
    await picker.selectOption(repository);
    await this.page.getByRole("button", { name: "Create workspace" }).click();
    await this.page.waitForURL(/\/workspaces\/[0-9a-f-]{36}$/);
  }

  async waitForState(state: string, timeoutMs = 90_000): Promise<void> {
    await this.page.locator(`h1 + [data-state="${state}"]`).waitFor({ timeout: timeoutMs });
  }

  /** Clicks "Open terminal" and returns the terminal in its new tab, connected. */
  async openTerminal(): Promise<{ tab: Page; terminal: TerminalPage }> {
    const opened = this.page.context().waitForEvent("page");
    await this.page.getByRole("button", { name: "Open terminal" }).click();
    const tab = await opened;
    const terminal = new TerminalPage(tab);
    await tab.locator('#terminal[data-status="open"]').waitFor();
    return { tab, terminal };
  }

  async stop(): Promise<void> {
    await this.page.getByRole("button", { name: "Stop" }).click();
  }

  async start(): Promise<void> {
    await this.page.getByRole("button", { name: "Start" }).click();
  }

  /** Deletes, typing the name into the confirmation, and waits for the list. */
  async delete(name: string): Promise<void> {
    this.page.once("dialog", (dialog) => void dialog.accept(name));
    await this.page.getByRole("button", { name: "Delete" }).click();
    await this.page.waitForURL(/\/workspaces$/);
  }
}
