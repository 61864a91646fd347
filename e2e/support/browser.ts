import { chromium, type Browser } from "playwright-core";

// Debian's chromium, with the flags this network needs (no background connections, which
// would fail and retry, and no sandbox, which cannot start as root).
export const chromiumFlags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: chromiumFlags,
  });
}
