import { describe, expect, it } from "vitest";
import { loadAgentAssets, readAgentAsset } from "./assets.ts";

// From source (not in the SEA), the terminal page assets come from a fresh bundle.
describe("agent assets from source", () => {
  it("asks for loadAgentAssets() first, then serves the bundled page", async () => {
    expect(() => readAgentAsset("terminal.js")).toThrow(/loadAgentAssets/);
    await Promise.all([loadAgentAssets(), loadAgentAssets()]);
    const js = readAgentAsset("terminal.js");
    expect(js?.length).toBeGreaterThan(1000);
    expect(readAgentAsset("terminal.js")).toBe(js);
    expect(readAgentAsset("terminal.css")?.toString("utf8")).toContain(".xterm");
  });

  it("has nothing by other names, the native addon included", () => {
    expect(readAgentAsset("pty.node")).toBeNull();
    expect(readAgentAsset("../package.json")).toBeNull();
  });
});
