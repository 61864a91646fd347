import { describe, expect, it } from "vitest";
import { fieldErrorsOf } from "./field-errors.ts";

const failure = (...issues: { path: string[]; message: string }[]) => ({ data: { issues } });

describe("fieldErrorsOf", () => {
  it("gives each field its first message, as a sentence", () => {
    expect(
      fieldErrorsOf(
        failure(
          { path: ["branch"], message: "a branch name cannot contain '..'" },
          { path: ["branch"], message: "second" },
          { path: ["name"], message: "name is taken" },
        ),
      ),
    ).toEqual({ branch: "A branch name cannot contain '..'", name: "Name is taken" });
  });

  it("keeps a message that starts with a name as the name is spelled", () => {
    expect(
      fieldErrorsOf(
        failure({ path: ["branch"], message: 'stand-in/sample has no branch "mian" on GitHub.' }),
      ),
    ).toEqual({ branch: 'stand-in/sample has no branch "mian" on GitHub.' });
    expect(fieldErrorsOf(failure({ path: ["name"], message: "api.v2 is not allowed" }))).toEqual({
      name: "api.v2 is not allowed",
    });
  });

  it("answers nothing for errors without field issues", () => {
    expect(fieldErrorsOf(new Error("boom"))).toEqual({});
    expect(fieldErrorsOf(null)).toEqual({});
  });
});
