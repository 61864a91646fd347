import { describe, expect, it } from "vitest";
import { workspaceStates } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import {
  assertTransition,
  assertUserAction,
  canTransition,
  userActions,
} from "./workspace-states.ts";

describe("workspace state machine", () => {
  it("follows the life cycle of SPEC §5", () => {
    const cycle = [
      "pending",
      "provisioning",
      "booting",
      "running",
      "stopping",
      "stopped",
      "starting",
      "booting",
      "running",
      "deleting",
      "deleted",
    ] as const;
    for (let step = 1; step < cycle.length; step++)
      expect(
        canTransition(cycle[step - 1]!, cycle[step]!),
        `${cycle[step - 1]}→${cycle[step]}`,
      ).toBe(true);
  });

  it("refuses skipping steps with a CONFLICT that names the possible next states", () => {
    expect(() => assertTransition("stopped", "running")).toThrow(
      expect.objectContaining({ code: "CONFLICT", message: expect.stringContaining("starting") }),
    );
    expect(() => assertTransition("deleted", "starting")).toThrow(AppError);
  });

  it("lets every live state fail into error and nothing leave deleted", () => {
    for (const state of workspaceStates) {
      if (state === "deleted" || state === "error") continue;
      expect(canTransition(state, "error"), state).toBe(true);
    }
    for (const state of workspaceStates) expect(canTransition("deleted", state)).toBe(false);
  });

  it("allows each user action only where its transition is legal", () => {
    for (const [action, rule] of Object.entries(userActions))
      for (const state of workspaceStates) {
        const allowed = (rule.from as readonly string[]).includes(state);
        if (allowed) expect(canTransition(state, rule.to), `${action} from ${state}`).toBe(true);
        let refused: unknown = null;
        try {
          assertUserAction(action as keyof typeof userActions, state);
        } catch (error) {
          refused = error;
        }
        if (allowed) expect(refused, `${action} from ${state}`).toBeNull();
        else expect(refused, `${action} from ${state}`).toMatchObject({ code: "CONFLICT" });
      }
  });
});
