import type { Locator, Page } from "playwright-core";

/** The confirmation dialog (app/components/confirm-dialog.tsx) titled `title`. */
export class ConfirmDialogPage {
  readonly dialog: Locator;
  readonly nameInput: Locator;
  readonly why: Locator;

  constructor(page: Page, title: string) {
    this.dialog = page.getByRole("dialog", { name: title });
    this.nameInput = this.dialog.getByTestId("confirm-input");
    this.why = this.dialog.getByTestId("confirm-why");
  }

  button(label: string): Locator {
    return this.dialog.getByRole("button", { name: label, exact: true });
  }

  async cancel(): Promise<void> {
    await this.button("Cancel").click();
    await this.dialog.waitFor({ state: "hidden" });
  }
}
