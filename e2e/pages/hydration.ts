import type { Page } from "playwright-core";

/** Waits until the web app has hydrated (app/root.tsx marks <html>), so clicks reach React. */
export async function waitForHydration(page: Page): Promise<void> {
  await page.locator("html[data-hydrated]").waitFor({ state: "attached" });
}
