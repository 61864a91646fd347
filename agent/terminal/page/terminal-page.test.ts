import { describe, expect, it } from "vitest";
import { renderTerminalPage, terminalPageCspFor } from "./terminal-page.ts";

describe("the terminal page's workspace settings (ADR 0022)", () => {
  const config = {
    controlPlaneUrl: "https://caw.example.com/base",
    workspaceId: "7d3c9d5e-2f43-4a53-9c3c-0c8f2f6f3f10",
    grantId: '"><script>',
  };

  it("names the control plane in connect-src, and nothing else of it", () => {
    expect(terminalPageCspFor(config.controlPlaneUrl)).toContain(
      "connect-src 'self' https://caw.example.com;",
    );
    expect(terminalPageCspFor()).toContain("connect-src 'self';");
  });

  it("hands the page its settings in escaped data attributes, with no inline script", () => {
    const html = renderTerminalPage({ title: "t", assetPrefix: "/assets/", config });
    expect(html).toContain('data-control-plane="https://caw.example.com/base"');
    expect(html).toContain(`data-workspace="${config.workspaceId}"`);
    expect(html).toContain('data-grant="&quot;&gt;&lt;script&gt;"');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).toContain('role="toolbar"');
  });
});
