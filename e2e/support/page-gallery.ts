import type { Page } from "playwright-core";
import { waitForHydration } from "../pages/hydration.ts";
import { screenshotPath } from "./app.ts";

// Issue #14's acceptance: every page photographed at a laptop's and a phone's width, in the
// light and the dark scheme, into e2e/artifacts/ (test artefacts, not committed).

export const galleryViewports = [
  { width: 1280, height: 800 },
  { width: 375, height: 800 },
] as const;
export const galleryColorSchemes = ["light", "dark"] as const;

/** Photographs what `page` shows after `show` in each width and scheme: `<name>-<width>-<scheme>.png`. */
export async function photographEachWay(
  page: Page,
  name: string,
  show: () => Promise<void>,
): Promise<string[]> {
  const written: string[] = [];
  for (const viewport of galleryViewports) {
    for (const colorScheme of galleryColorSchemes) {
      await page.setViewportSize(viewport);
      await page.emulateMedia({ colorScheme });
      await show();
      const path = await screenshotPath(`${name}-${viewport.width}-${colorScheme}`);
      await page.screenshot({ path, fullPage: true });
      written.push(path);
    }
  }
  return written;
}

/** Opens one of our pages and waits until it has hydrated and stopped loading. */
export async function showPage(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await waitForHydration(page);
  await page.locator("main h1").first().waitFor();
  // Loading placeholders mark themselves aria-busy; a busy workspace state badge may stay so.
  await page
    .waitForFunction(
      () => !document.querySelector('main[aria-busy="true"], [aria-busy="true"]:not(.state)'),
      undefined,
      {
        timeout: 10_000,
      },
    )
    .catch(() => undefined);
}
