import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { workspaces } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { callerFor, createTestUser } from "../testing/test-users.ts";
import { adminOnlyNotice, describeWorkspaceAccess } from "./local-isolation.ts";

// Without root, local workspaces cannot have OS users of their own, so only admins may create
// them (SPEC §10). The process's uid is what decides, so the tests make it look unprivileged.

let database: TestDatabase;
let context: AppLoadContextValue;
let admin: AuthenticatedUser;
let member: AuthenticatedUser;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  admin = await createTestUser(context, "first-admin"); // the first user of an install is admin
  member = await createTestUser(context, "member");
});
afterAll(() => database.drop());
afterEach(() => vi.restoreAllMocks());

const input = { name: "mine", repository: "stand-in/sample", branch: "main" };
const pretendUnprivileged = () => vi.spyOn(process, "getuid").mockReturnValue(1000);

describe("who may create workspaces", () => {
  it("is everyone on Hetzner, and locally as root; admins only locally without root", () => {
    expect(describeWorkspaceAccess("hetzner", false).allowed).toBe("everyone");
    expect(describeWorkspaceAccess("local", true)).toEqual({
      provider: "local",
      allowed: "everyone",
      notice: null,
    });
    expect(describeWorkspaceAccess("local", false)).toMatchObject({
      allowed: "admins",
      notice: adminOnlyNotice,
    });
  });

  it("refuses a member's local workspace when the control plane is not root, and says why", async () => {
    expect(admin.role).toBe("admin");
    expect(member.role).toBe("member");
    pretendUnprivileged();
    const refused = callerFor(context, member).workspaces.create(input);
    await expect(refused).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(refused).rejects.toThrow(/only admins can create workspaces/);
    expect(await callerFor(context, member).workspaces.list()).toEqual([]);
    const info = await callerFor(context, member).system.info();
    expect(info.workspaces).toMatchObject({ allowed: "admins", notice: adminOnlyNotice });
  });

  it("lets the admin create one without root, and a member as root", async () => {
    pretendUnprivileged();
    await expect(callerFor(context, admin).workspaces.create(input)).resolves.toMatchObject({
      name: "mine",
    });
    vi.restoreAllMocks();
    vi.spyOn(process, "getuid").mockReturnValue(0);
    await expect(callerFor(context, member).workspaces.create(input)).resolves.toMatchObject({
      name: "mine",
    });
    expect((await callerFor(context, member).system.info()).workspaces.allowed).toBe("everyone");
  });

  it("refuses to start a member's workspace made while root once the install runs without it", async () => {
    vi.spyOn(process, "getuid").mockReturnValue(0);
    const api = callerFor(context, member);
    const { id } = await api.workspaces.create({ ...input, name: "made-as-root" });
    await database.db.update(workspaces).set({ state: "stopped" }).where(eq(workspaces.id, id));
    vi.restoreAllMocks();
    pretendUnprivileged();
    await expect(api.workspaces.start({ id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect((await api.workspaces.get({ id })).state).toBe("stopped");
    // Stopping and deleting stay possible: they make no server.
    await expect(api.workspaces.delete({ id })).resolves.toMatchObject({ state: "deleting" });
  });
});
