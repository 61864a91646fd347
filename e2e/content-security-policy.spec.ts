import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HomePage } from "./pages/home-page.ts";
import { startApp, type RunningApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

// The pages' Content-Security-Policy, enforced by real Chromium on the product as `npm start`
// runs it: our own scripts (nonce'd inline ones included) run and hydrate the page; a script
// slipped into the HTML (what an XSS would do) does not.

type Violation = { directive: string; sample: string };
type Probe = Window & {
  violations?: Violation[];
  injected?: string;
  wrongNonce?: string;
  inlineHandler?: string;
  sameDocument?: boolean;
};

let app: RunningApp;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** A page that records every CSP violation (init scripts come from the browser, not the page). */
async function newRecordingPage(): Promise<Page> {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    const probe = window as Probe;
    probe.violations = [];
    document.addEventListener("securitypolicyviolation", (event) =>
      probe.violations!.push({ directive: event.effectiveDirective, sample: event.sample }),
    );
  });
  return page;
}

describe("the Content-Security-Policy of control-plane pages", () => {
  it("lets the page's own scripts run and hydrate it, with a nonce and no unsafe-inline", async () => {
    const page = await newRecordingPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const response = await page.goto(`${app.baseUrl}/`);
    const policy = response!.headers()["content-security-policy"]!;
    const scriptSrc = policy.split(";").find((part) => part.trim().startsWith("script-src"))!;
    expect(scriptSrc).toMatch(/'nonce-[A-Za-z0-9+/=]+'/);
    expect(scriptSrc).not.toContain("unsafe-inline");
    // "ready" is rendered only in the browser, after hydration and a tRPC call (connect-src).
    expect(await new HomePage(page).waitForSystemInfo()).toBe("ready");
    // A client-side navigation: the same document, so React Router handled the click.
    await page.evaluate(() => ((window as Probe).sameDocument = true));
    await page.getByRole("link", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${app.baseUrl}/login`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await page.evaluate(() => (window as Probe).sameDocument)).toBe(true);
    expect(await page.evaluate(() => (window as Probe).violations)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("blocks an inline script injected into the page, with or without a made-up nonce", async () => {
    const page = await newRecordingPage();
    // The served page, with what an HTML injection would add; its headers are kept as sent.
    await page.route(`${app.baseUrl}/login`, async (route) => {
      const response = await route.fetch();
      const injected = [
        '<script>window.injected = "ran"</script>',
        '<script nonce="made-up">window.wrongNonce = "ran"</script>',
        '<img src="data:," onerror="window.inlineHandler = \'ran\'">',
      ].join("");
      const body = (await response.text()).replace("</head>", `${injected}</head>`);
      await route.fulfill({ response, body });
    });
    await page.goto(`${app.baseUrl}/login`);
    // The page's own scripts still run: it hydrates (the header's links come from a tRPC
    // query) and navigates on the client. By then the refusals of the injected head
    // scripts, reported while the page was parsed, have all been dispatched.
    await page.getByRole("link", { name: "Sign in", exact: true }).waitFor();
    await page.evaluate(() => ((window as Probe).sameDocument = true));
    await page.getByRole("link", { name: "Cloud AI Workspaces" }).click();
    expect(await new HomePage(page).waitForSystemInfo()).toBe("ready");
    const probe = await page.evaluate(() => {
      const { injected, wrongNonce, inlineHandler, violations, sameDocument } = window as Probe;
      return { injected, wrongNonce, inlineHandler, violations, sameDocument };
    });
    expect(probe.sameDocument).toBe(true);
    expect(probe.injected).toBeUndefined();
    expect(probe.wrongNonce).toBeUndefined();
    expect(probe.inlineHandler).toBeUndefined();
    // Chromium itself reports the three refusals: two inline scripts, one inline handler.
    expect(probe.violations!.map((violation) => violation.directive).sort()).toEqual([
      "script-src-attr",
      "script-src-elem",
      "script-src-elem",
    ]);
  });
});
