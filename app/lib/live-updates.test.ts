import { describe, expect, it } from "vitest";
import { isAffectedBy, isWorthAskingAgain } from "./live-updates.ts";

const id = "6f1c2a7e-0000-4000-8000-000000000001";
const other = "6f1c2a7e-0000-4000-8000-000000000002";
const key = (path: string[], input?: unknown) => ({ queryKey: [path, { input, type: "query" }] });

describe("isAffectedBy", () => {
  it("takes every query naming the workspace, whatever the input's field is called", () => {
    expect(isAffectedBy(key(["workspaces", "get"], { id }), new Set([id]))).toBe(true);
    expect(isAffectedBy(key(["sessions", "list"], { workspaceId: id }), new Set([id]))).toBe(true);
    expect(isAffectedBy(key(["boot", "steps"], { workspace: { id } }), new Set([id]))).toBe(true);
    expect(isAffectedBy(key(["workspaces", "get"], { id: other }), new Set([id]))).toBe(false);
  });

  it("takes the lists, and leaves the user's settings alone", () => {
    expect(isAffectedBy(key(["workspaces", "list"]), new Set([id]))).toBe(true);
    expect(isAffectedBy(key(["catalogue", "costs"]), new Set([id]))).toBe(true);
    expect(isAffectedBy(key(["auth", "me"]), new Set([id]))).toBe(false);
    expect(isAffectedBy(key(["secrets", "list"]), new Set([id]))).toBe(false);
  });
});

describe("isWorthAskingAgain", () => {
  const answered = (error: unknown) => ({ state: { error } }) as never;
  it("leaves a workspace that was not found alone, and asks again after any other answer", () => {
    expect(isWorthAskingAgain(answered({ data: { code: "NOT_FOUND" } }))).toBe(false);
    expect(isWorthAskingAgain(answered({ data: { code: "INTERNAL_SERVER_ERROR" } }))).toBe(true);
    expect(isWorthAskingAgain(answered(null))).toBe(true);
  });
});
