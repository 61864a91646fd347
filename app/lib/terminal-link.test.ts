import { describe, expect, it } from "vitest";
import { terminalPathOf } from "./terminal-link.ts";

describe("terminalPathOf", () => {
  it("names the launcher, and the session when one is asked for", () => {
    const id = "6f1c2a7e-0000-4000-8000-000000000001";
    expect(terminalPathOf(id)).toBe(`/workspaces/${id}/terminal`);
    expect(terminalPathOf(id, "agent 2")).toBe(`/workspaces/${id}/terminal?session=agent+2`);
  });
});
