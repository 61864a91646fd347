import type { Locator, Page } from "playwright-core";
import { waitForHydration } from "./hydration.ts";

/** The new-workspace form (/workspaces/new): its fields, their errors and the submit button. */
export class NewWorkspacePage {
  readonly repository: Locator;
  readonly branch: Locator;
  readonly name: Locator;
  readonly serverType: Locator;
  readonly thisMachine: Locator;
  readonly submit: Locator;
  /** Why the submit button is disabled, beside it; empty when it is not. */
  readonly waitingFor: Locator;
  /** The form-wide error (what no field error says). */
  readonly formError: Locator;

  constructor(private readonly page: Page) {
    this.repository = page.getByLabel("Repository");
    this.branch = page.getByLabel("Branch");
    this.name = page.getByLabel("Name", { exact: true });
    this.serverType = page.locator('select[name="serverType"]');
    this.thisMachine = page.getByTestId("this-machine");
    this.submit = page.getByRole("button", { name: "Create workspace" });
    this.waitingFor = page.getByTestId("create-waiting-for");
    this.formError = page.locator("form [role=alert]");
  }

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/workspaces/new`);
    await waitForHydration(this.page);
    await this.page.getByRole("heading", { name: "New workspace" }).waitFor();
  }

  async pickRepository(fullName: string): Promise<void> {
    await this.repository.locator(`option[value="${fullName}"]`).waitFor({ state: "attached" });
    await this.repository.selectOption(fullName);
  }

  /** The error shown beside a field (`name`, `branch`, `repository`, …). */
  fieldError(field: string): Locator {
    return this.page.getByTestId(`${field}-error`);
  }
}
