import { describe, expect, it } from "vitest";
import { AppError, toProblemDetails } from "./errors.ts";

describe("toProblemDetails", () => {
  it("keeps an AppError's code and message", () => {
    const problem = toProblemDetails(
      new AppError("CONFLICT", "A workspace named demo exists. Pick another name."),
      "req-1",
    );
    expect(problem).toEqual({
      type: "urn:cloud-ai-workspaces:error:conflict",
      title: "conflict",
      status: 409,
      detail: "A workspace named demo exists. Pick another name.",
      instance: "req-1",
    });
  });

  it("hides the message of anything else behind a generic 500", () => {
    const problem = toProblemDetails(new Error("password authentication failed for user admin"));
    expect(problem.status).toBe(500);
    expect(problem.detail).not.toContain("password");
    expect(problem.detail).toMatch(/request id/);
  });
});
