import type { Locator, Page } from "playwright-core";
import { standInTestPassword } from "../../server/github-stand-in/test-helpers.ts";

/** What every page has around its content: the header, the demo banner, error pages. */
export class SiteChrome {
  readonly header: Locator;
  readonly signOut: Locator;
  readonly demoBanner: Locator;
  readonly errorPage: Locator;

  constructor(private readonly page: Page) {
    this.header = page.locator("header.site-header");
    this.signOut = this.header.getByRole("button", { name: "Sign out" });
    this.demoBanner = page.getByTestId("local-demo-banner");
    this.errorPage = page.getByTestId("error-page");
  }

  /** Follows the header's "Sign in", then ours and the stand-in's, and waits to be signed in. */
  async signInFromHeader(login: string): Promise<void> {
    await this.header.getByRole("link", { name: "Sign in" }).click();
    await this.page.waitForURL(/\/login/);
    await this.authorizeAs(login);
  }

  /** From our sign-in page: "Sign in with GitHub", then the stand-in's authorize form. */
  async authorizeAs(login: string): Promise<void> {
    await this.page.getByRole("link", { name: "Sign in with GitHub" }).click();
    await this.page.getByLabel("GitHub login").fill(login);
    await this.page.getByLabel("Password").fill(standInTestPassword);
    await this.page.getByRole("button", { name: "Authorize" }).click();
    await this.page.getByTestId("current-user").waitFor();
  }

  /** How many lines the text of `locator` takes on screen (1 when it does not wrap). */
  static async lineCount(locator: Locator): Promise<number> {
    return locator.evaluate((element) => {
      const range = document.createRange();
      range.selectNodeContents(element);
      const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
      return tops.size;
    });
  }
}
