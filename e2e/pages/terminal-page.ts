import type { Locator, Page } from "playwright-core";

/** The agent's terminal page (xterm.js), reached through a terminal.token URL. */
export class TerminalPage {
  readonly terminal: Locator;
  /** What the workspace is doing once the socket closed (ADR 0022), with Start or a way back. */
  readonly workspacePanel: Locator;
  readonly startButton: Locator;
  /** The notice that typing while disconnected was refused. */
  readonly refusedNotice: Locator;
  /** Esc, Tab, Ctrl and the arrows, shown on narrow or touch screens. */
  readonly keys: Locator;

  constructor(private readonly page: Page) {
    this.terminal = page.locator("#terminal");
    this.workspacePanel = page.locator("#terminal-workspace");
    this.startButton = this.workspacePanel.getByRole("button", { name: "Start" });
    this.refusedNotice = page.locator("#terminal-refused");
    this.keys = page.getByRole("toolbar", { name: "Keys a touch keyboard lacks" });
  }

  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await this.waitUntilOpen();
  }

  async waitUntilOpen(): Promise<void> {
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

  /** Waits until the page says the control plane reports the workspace `state`. */
  async waitForWorkspaceState(state: string, timeout = 60_000): Promise<void> {
    await this.page.locator(`#terminal[data-workspace-state="${state}"]`).waitFor({ timeout });
  }

  /** The terminal grant the agent handed the page (data-grant), as the page sends it. */
  async grantId(): Promise<string> {
    return (await this.terminal.getAttribute("data-grant")) ?? "";
  }

  /** Taps one of the touch keys (Esc, Tab, Ctrl, Left, Up, Down, Right). */
  async tapKey(name: string): Promise<void> {
    await this.keys.getByRole("button", { name, exact: true }).click();
  }
}
