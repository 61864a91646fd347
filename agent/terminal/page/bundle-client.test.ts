import { Script } from "node:vm";
import { describe, expect, it } from "vitest";
import { bundleTerminalClient } from "./bundle-client.ts";
import { renderTerminalPage, terminalAssetNames } from "./terminal-page.ts";

describe("bundleTerminalClient", () => {
  it("bundles the client into one browser script with xterm's styles", async () => {
    const { js, css } = await bundleTerminalClient();
    expect(js.length).toBeGreaterThan(10_000);
    expect(js).not.toContain("require(");
    expect(js).not.toMatch(/^\s*import\s/m);
    expect(js).toContain('"reconnecting"'); // a status the container reports
    expect(() => new Script(js)).not.toThrow(); // parses as a classic script
    expect(css).toContain(".xterm");
    expect(css).toContain(".terminal-status");
  }, 60_000);
});

describe("renderTerminalPage", () => {
  it("loads the assets from the prefix, with no inline script", () => {
    const html = renderTerminalPage({ title: "a <b> & c", assetPrefix: "/assets/" });
    expect(html).toContain(`<script defer src="/assets/${terminalAssetNames.script}"></script>`);
    expect(html).toContain(`href="/assets/${terminalAssetNames.stylesheet}"`);
    expect(html).toContain("<title>a &lt;b&gt; &amp; c</title>");
    expect(html).toContain(`content="default-src 'self'; connect-src 'self';`);
    expect(html).toContain('data-status="connecting"');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });
});
