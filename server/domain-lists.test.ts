import { describe, expect, it } from "vitest";
import { sessionStatuses as storedStatuses } from "../db/schema.ts";
import { sessionStatuses } from "../protocol/agent-sessions.ts";

// db/ and protocol/ import nothing of ours, so a list both need is written in each; this keeps
// the two copies the same list.
describe("lists kept in db/ and protocol/", () => {
  it("has the same session statuses in the schema and the agent protocol", () => {
    expect([...storedStatuses]).toEqual([...sessionStatuses]);
  });
});
