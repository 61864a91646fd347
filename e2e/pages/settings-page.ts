import type { Locator, Page } from "playwright-core";

export class SettingsPage {
  readonly newToken: Locator;

  constructor(private readonly page: Page) {
    this.newToken = page.getByTestId("new-token");
  }

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/settings`);
    await this.page.getByRole("heading", { name: "API tokens" }).waitFor();
  }

  /** Creates a token and returns its value, which the page shows once. */
  async createToken(name: string): Promise<string> {
    await this.page.getByLabel("Token name").fill(name);
    await this.page.getByRole("button", { name: "Create token" }).click();
    return (await this.newToken.textContent()) ?? "";
  }

  async revokeToken(name: string): Promise<void> {
    await this.page.getByRole("button", { name: `Revoke ${name}` }).click();
    await this.page.getByRole("button", { name: `Revoke ${name}` }).waitFor({ state: "detached" });
  }
}
