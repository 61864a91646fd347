import { describe, expect, it } from "vitest";
import { safeRedirectTarget } from "./safe-redirect.ts";

describe("safeRedirectTarget", () => {
  it.each([
    ["/settings", "/settings"],
    ["/workspaces/0b9d?tab=log#timeline", "/workspaces/0b9d?tab=log#timeline"],
    ["/workspaces/../admin", "/admin"],
    // Encoded, a slash is only a character of a path on this site.
    ["/%2F%2Fevil.example", "/%2F%2Fevil.example"],
  ])("keeps the same-origin path %s", (value, expected) => {
    expect(safeRedirectTarget(value)).toBe(expected);
  });

  it.each([
    "//evil.example/x",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/.//evil.example",
    "",
    "/login",
    "/login?redirectTo=/login",
    "/auth/github",
    `/${"a".repeat(2_000)}`,
  ])("refuses %j", (value) => {
    expect(safeRedirectTarget(value)).toBe("/");
  });

  it("refuses what is not a string", () => {
    expect(safeRedirectTarget(undefined)).toBe("/");
    expect(safeRedirectTarget(null, "/workspaces")).toBe("/workspaces");
  });
});
