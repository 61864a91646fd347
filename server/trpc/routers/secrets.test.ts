import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthenticatedUser } from "../../auth/request-auth.ts";
import type { AppLoadContextValue } from "../../http/load-context.ts";
import { createTestLoadContext } from "../../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-database.ts";
import { callerFor, createTestUser } from "../../testing/test-users.ts";

// secrets.list/set/delete as a signed-in user calls them: values go in, never come out.

let database: TestDatabase;
let context: AppLoadContextValue;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  alice = await createTestUser(context, "alice");
  bob = await createTestUser(context, "bob");
});
afterAll(() => database.drop());

describe("secrets router", () => {
  it("sets, replaces, lists and deletes, answering names and dates only", async () => {
    const api = callerFor(context, alice);
    const saved = await api.secrets.set({ name: "OPENAI_API_KEY", value: "sk-router-marker" });
    expect(saved).toEqual({
      name: "OPENAI_API_KEY",
      createdAt: expect.any(Date),
      updatedAt: expect.any(Date),
    });
    await api.secrets.set({ name: "OPENAI_API_KEY", value: "sk-router-marker-2" });
    await api.secrets.set({ name: "ANTHROPIC_API_KEY", value: "sk-ant-marker" });
    const listed = await api.secrets.list();
    expect(listed.map((secret) => secret.name)).toEqual(["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]);
    expect(JSON.stringify(listed)).not.toContain("marker");
    expect(await callerFor(context, bob).secrets.list()).toEqual([]);
    await expect(
      callerFor(context, bob).secrets.delete({ name: "OPENAI_API_KEY" }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(await api.secrets.delete({ name: "OPENAI_API_KEY" })).toEqual({
      name: "OPENAI_API_KEY",
    });
    expect((await api.secrets.list()).map((secret) => secret.name)).toEqual(["ANTHROPIC_API_KEY"]);
  });

  it("refuses bad input with the shared rules, never quoting the value", async () => {
    const api = callerFor(context, alice);
    const refused = await api.secrets
      .set({ name: "lower-case", value: "" })
      .catch((error: Error & { code?: string }) => error);
    expect(refused).toMatchObject({ code: "BAD_REQUEST" });
    expect((refused as Error).message).toContain("upper-case letters");
    expect((refused as Error).message).toContain("needs a value");
    const reserved = await api.secrets
      .set({ name: "PATH", value: "/tmp/evil-marker" })
      .catch((error: Error) => error);
    expect((reserved as Error).message).toContain("used by the shell");
    expect((reserved as Error).message).not.toContain("evil-marker");
  });

  it("requires sign-in", async () => {
    const anonymous = callerFor(context, null);
    await expect(anonymous.secrets.list()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(anonymous.secrets.set({ name: "A", value: "b" })).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
  });
});
