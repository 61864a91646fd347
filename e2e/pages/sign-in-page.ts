import type { Page } from "playwright-core";
import { standInTestPassword } from "../../server/github-stand-in/test-helpers.ts";

/** Our sign-in page and the GitHub stand-in's authorize page behind it. */
export class SignInPage {
  constructor(private readonly page: Page) {}

  /** `password`: a login's first sign-in at the stand-in sets it; later ones must repeat it. */
  async signInAs(baseUrl: string, login: string, password = standInTestPassword): Promise<void> {
    await this.page.goto(`${baseUrl}/login`);
    await this.page.getByRole("link", { name: "Sign in with GitHub" }).click();
    await this.page.getByLabel("GitHub login").fill(login);
    await this.page.getByLabel("Password").fill(password);
    await this.page.getByRole("button", { name: "Authorize" }).click();
    await this.page.getByTestId("current-user").waitFor();
  }
}
