import type { Locator, Page } from "playwright-core";
import { waitForHydration } from "./hydration.ts";

export class SettingsPage {
  readonly newToken: Locator;
  readonly sessionRows: Locator;
  readonly secretRows: Locator;
  readonly secretName: Locator;
  readonly secretValue: Locator;

  constructor(private readonly page: Page) {
    this.newToken = page.getByTestId("new-token");
    this.sessionRows = page.getByTestId("session-row");
    this.secretRows = page.getByTestId("secret-row");
    this.secretName = page.getByLabel("Secret name");
    this.secretValue = page.getByLabel("Secret value");
  }

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/settings`);
    await waitForHydration(this.page);
    await this.page.getByRole("heading", { name: "API tokens" }).waitFor();
  }

  /** Creates a token and returns its value, which the page shows once. */
  async createToken(name: string): Promise<string> {
    await this.page.getByLabel("Token name").fill(name);
    await this.page.getByRole("button", { name: "Create token" }).click();
    return (await this.newToken.textContent()) ?? "";
  }

  /** Revokes a token, confirming in the dialog, and waits for its button to go. */
  async revokeToken(name: string): Promise<void> {
    await this.page.getByRole("button", { name: `Revoke ${name}` }).click();
    await this.page
      .getByRole("dialog", { name: `Revoke ${name}?` })
      .getByRole("button", { name: "Revoke", exact: true })
      .click();
    await this.page.getByRole("button", { name: `Revoke ${name}` }).waitFor({ state: "detached" });
  }

  /** Ends every session of the account, this one included; the page goes to /login. */
  async signOutEverywhere(): Promise<void> {
    await this.page.getByRole("button", { name: "Sign out everywhere" }).click();
    await this.page.waitForURL(/\/login$/);
  }

  /** Signs out the session whose row mentions `userAgent`, and waits for its row to go. */
  async signOutSession(userAgent: string): Promise<void> {
    const row = this.sessionRows.filter({ hasText: userAgent });
    await row.getByRole("button", { name: "Sign out" }).click();
    await row.waitFor({ state: "detached" });
  }

  /** Adds or replaces a secret through the form and waits until its row is listed. */
  async saveSecret(name: string, value: string): Promise<void> {
    await this.secretName.fill(name);
    await this.secretValue.fill(value);
    await this.page.getByRole("button", { name: /^(Save|Replace) secret$/ }).click();
    await this.secretRows.filter({ hasText: name }).waitFor();
    // Saved once the form is cleared: the value is never on the page again.
    await this.page.waitForFunction(
      () => (document.querySelector('input[name="secretValue"]') as HTMLInputElement).value === "",
    );
  }

  /** Deletes a secret, confirming in the dialog, and waits for its row to go. */
  async deleteSecret(name: string): Promise<void> {
    await this.page.getByRole("button", { name: `Delete ${name}` }).click();
    await this.page
      .getByRole("dialog", { name: `Delete the secret ${name}?` })
      .getByRole("button", { name: "Delete", exact: true })
      .click();
    await this.secretRows.filter({ hasText: name }).waitFor({ state: "detached" });
  }
}
