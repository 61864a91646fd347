import type { Page } from "playwright-core";

/** Our sign-in page and the GitHub stand-in's authorize page behind it. */
export class SignInPage {
  constructor(private readonly page: Page) {}

  async signInAs(baseUrl: string, login: string): Promise<void> {
    await this.page.goto(`${baseUrl}/login`);
    await this.page.getByRole("link", { name: "Sign in with GitHub" }).click();
    await this.page.getByLabel("GitHub login").fill(login);
    await this.page.getByRole("button", { name: "Authorize" }).click();
    await this.page.getByTestId("current-user").waitFor();
  }
}
