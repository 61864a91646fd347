import { waitForHydration } from "./hydration.ts";
import type { Page } from "playwright-core";
import { ConfirmDialogPage } from "./confirm-dialog.ts";
import { TerminalPage } from "./terminal-page.ts";

/** The workspaces list, the new-workspace form and a workspace's page. */
export class WorkspacesPage {
  constructor(private readonly page: Page) {}

  async openList(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/workspaces`);
    await waitForHydration(this.page);
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
    await this.page.getByRole("link", { name: "Open terminal" }).click();
    const tab = await opened;
    const terminal = new TerminalPage(tab);
    await tab.locator('#terminal[data-status="open"]').waitFor();
    return { tab, terminal };
  }

  /** The rows of the workspace page's Sessions table (`data-session` holds each name). */
  sessionRows() {
    return this.page.getByTestId("terminal-session-row");
  }

  sessionRow(name: string) {
    return this.page.locator(`[data-testid="terminal-session-row"][data-session="${name}"]`);
  }

  sessionsEmpty() {
    return this.page.getByTestId("sessions-empty");
  }

  /** Clicks "New session" and answers the name of the row that appeared. */
  async newSession(): Promise<string> {
    const before = await this.sessionRows().count();
    await this.page.getByRole("button", { name: "New session" }).click();
    await this.sessionRows().nth(before).waitFor();
    return (await this.sessionRows().nth(before).getAttribute("data-session")) ?? "";
  }

  /** Opens the inline rename form of `name` and types `newName` (not saved yet). */
  async typeSessionName(name: string, newName: string): Promise<void> {
    const button = this.page.getByRole("button", { name: `Rename ${name}` });
    if (await button.isVisible()) await button.click();
    await this.sessionRow(name).getByLabel("New name").fill(newName);
  }

  async renameSession(name: string, newName: string): Promise<void> {
    await this.typeSessionName(name, newName);
    await this.sessionRow(name).getByRole("button", { name: "Save" }).click();
    await this.sessionRow(newName)
      .getByRole("button", { name: `Rename ${newName}` })
      .waitFor();
  }

  /** Ends a session, confirming in the dialog; answers the dialog's question and text. */
  async endSession(name: string): Promise<string> {
    await this.page.getByRole("button", { name: `End ${name}` }).click();
    const confirm = new ConfirmDialogPage(this.page, `End the session ${name}?`);
    await confirm.dialog.waitFor();
    const asked = (await confirm.dialog.textContent()) ?? "";
    await confirm.button("End session").click();
    await this.sessionRow(name).waitFor({ state: "detached" });
    return asked;
  }

  /** Clicks a session's "Open" and returns its terminal in the new tab, connected. */
  async openSession(name: string): Promise<{ tab: Page; terminal: TerminalPage }> {
    const opened = this.page.context().waitForEvent("page");
    await this.page.getByRole("link", { name: `Open ${name}` }).click();
    const tab = await opened;
    await tab.locator('#terminal[data-status="open"]').waitFor();
    return { tab, terminal: new TerminalPage(tab) };
  }

  async stop(): Promise<void> {
    await this.page.getByRole("button", { name: "Stop" }).click();
  }

  async start(): Promise<void> {
    await this.page.getByRole("button", { name: "Start" }).click();
  }

  /** Deletes, typing the name into the confirmation dialog, and waits for the list. */
  async delete(name: string): Promise<void> {
    await this.page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = this.page.getByRole("dialog", { name: `Delete ${name}?` });
    await dialog.getByLabel(`Type ${name} to confirm`).fill(name);
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await this.page.waitForURL(/\/workspaces$/);
  }
}
