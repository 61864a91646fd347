import { describe, expect, it } from "vitest";
import { editDistance, suggestBranches } from "./branch-matches.ts";

describe("close matches for a missing branch", () => {
  it("measures edits", () => {
    expect(editDistance("main", "main")).toBe(0);
    expect(editDistance("mian", "main")).toBe(2);
    expect(editDistance("develop", "devlop")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("offers typos, other cases, prefixes and containing names, nearest first", () => {
    const names = ["main", "develop", "feat/login", "release/1.2", "Main-old", "docs"];
    expect(suggestBranches("mian", names)).toEqual(["main"]);
    expect(suggestBranches("MAIN", names)).toEqual(["main", "Main-old"]);
    expect(suggestBranches("devlop", names)).toEqual(["develop"]);
    expect(suggestBranches("login", names)).toEqual(["feat/login"]);
    expect(suggestBranches("release", names)).toEqual(["release/1.2"]);
  });

  it("offers nothing far off, and at most five", () => {
    expect(suggestBranches("completely-different", ["main", "develop"])).toEqual([]);
    const many = Array.from({ length: 20 }, (_, index) => `v${index}`);
    expect(suggestBranches("v1", many)).toHaveLength(5);
  });
});
