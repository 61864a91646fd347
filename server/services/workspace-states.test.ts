import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workspaceEvents, workspaces, workspaceStates } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { transitionWorkspace, transitionWorkspaceIf } from "./workspaces.ts";
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

// The one function that moves a workspace, over a real database: the machine above is only
// worth something if every write goes through it.
describe("transitionWorkspace", () => {
  let database: TestDatabase;
  let workspaceId: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    const user = await createTestUser(await createTestLoadContext(database), "mover");
    const [row] = await database.db
      .insert(workspaces)
      .values({
        userId: user.id,
        name: "mover",
        repository: "a/b",
        branch: "main",
        provider: "local",
        serverType: "local",
        location: "local",
        idleTimeoutMinutes: 30,
        state: "stopped",
      })
      .returning();
    workspaceId = row!.id;
  });
  afterAll(() => database.drop());

  const readState = async () => {
    const [row] = await database.db
      .select({ state: workspaces.state, stateReason: workspaces.stateReason })
      .from(workspaces)
      .where(eq(workspaces.id, workspaceId));
    const events = await database.db
      .select()
      .from(workspaceEvents)
      .where(eq(workspaceEvents.workspaceId, workspaceId));
    return { ...row!, events: events.length };
  };

  it("refuses an illegal move with CONFLICT and writes neither the state nor an event", async () => {
    const before = await readState();
    await expect(
      transitionWorkspace(database.db, workspaceId, "running", "skip ahead", "system"),
    ).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("starting") });
    // Allowed from the current state by the caller, still illegal for the machine.
    await expect(
      transitionWorkspaceIf(database.db, workspaceId, ["stopped"], "booting", "skip", "agent"),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await readState()).toEqual(before);
  });

  it("writes a legal move and its event together", async () => {
    const before = await readState();
    expect(await transitionWorkspace(database.db, workspaceId, "starting", "go", "user")).toBe(
      "stopped",
    );
    expect(await readState()).toMatchObject({ state: "starting", events: before.events + 1 });
    // Not from the expected state: nothing happens, and that is no error.
    expect(
      await transitionWorkspaceIf(database.db, workspaceId, ["stopped"], "starting", "x", "user"),
    ).toBe(false);
    expect((await readState()).events).toBe(before.events + 1);
  });
});
