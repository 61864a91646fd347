import type { Locator, Page } from "playwright-core";

/** The agent's terminal page (xterm.js), reached through a terminal.token URL. */
export class TerminalPage {
  readonly terminal: Locator;

  constructor(private readonly page: Page) {
    this.terminal = page.locator("#terminal");
  }

  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await this.page.locator('#terminal[data-status="open"]').waitFor();
  }

  async run(command: string): Promise<void> {
    await this.terminal.click();
    await this.page.keyboard.type(command);
    await this.page.keyboard.press("Enter");
  }

  /** Waits until the terminal's screen shows `text`. */
  async waitForText(text: string): Promise<void> {
    await this.page.locator(".xterm-rows", { hasText: text }).waitFor();
  }
}
