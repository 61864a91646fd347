import { count, desc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, jobs, workspaces } from "../../../db/schema.ts";
import type { AuthenticatedUser } from "../../auth/request-auth.ts";
import type { AppLoadContextValue } from "../../http/load-context.ts";
import { createTestLoadContext } from "../../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-database.ts";
import { upsertGitHubUser } from "../../services/users.ts";
import { callerFor, createTestUser } from "../../testing/test-users.ts";
import { sharedGitHubStandIn } from "../../testing/test-github.ts";
import { repositoryExists, repositoryPath } from "../../github-stand-in/repos.ts";
import { runGit } from "../../github-stand-in/run-git.ts";
import { createRepository } from "../../github-stand-in/seed.ts";

let database: TestDatabase;
let context: AppLoadContextValue;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database, { WORKSPACE_LIMIT: 3 });
  alice = await createTestUser(context, "alice");
  bob = await createTestUser(context, "bob");
  // A private repository of bob's at the stand-in: GitHub shows it to bob and to nobody else.
  const standIn = await sharedGitHubStandIn();
  if (!(await repositoryExists(standIn.reposDir, { owner: "bob", name: "private-code" })))
    await createRepository(
      standIn.reposDir,
      { owner: "bob", name: "private-code" },
      { description: "Bob's", commitSubject: "Private start", private: true },
    );
});
afterAll(() => database.drop());

const input = (name: string) => ({ name, repository: "stand-in/sample", branch: "main" });

const jobsOf = (workspaceId: string) =>
  database.db
    .select({ kind: jobs.kind, status: jobs.status })
    .from(jobs)
    .where(eq(jobs.workspaceId, workspaceId))
    .orderBy(jobs.id);

describe("workspaces", () => {
  it("creates a workspace in provisioning with its timeline and a queued provision job", async () => {
    const api = callerFor(context, alice);
    const workspace = await api.workspaces.create(input("first"));
    expect(workspace).toMatchObject({
      name: "first",
      state: "provisioning",
      serverType: "cx23",
      location: "fsn1",
      idleTimeoutMinutes: 30,
      provider: "local",
    });
    expect(workspace).not.toHaveProperty("bootstrapTokenHash");
    const events = await api.workspaces.events({ id: workspace.id });
    expect(events.map((event) => [event.fromState, event.toState])).toEqual([
      [null, "pending"],
      ["pending", "provisioning"],
    ]);
    expect(await jobsOf(workspace.id)).toEqual([{ kind: "workspace.provision", status: "queued" }]);
    expect((await api.workspaces.list()).map((row) => row.name)).toEqual(["first"]);
    expect(await api.workspaces.jobLog({ id: workspace.id })).toMatchObject({
      kind: "workspace.provision",
      status: "queued",
      lines: [],
    });
  });

  it("rejects bad input naming the field and how to fix it", async () => {
    // createCaller skips the HTTP error formatter, so the message is the zod issue list.
    const api = callerFor(context, alice);
    const refused = api.workspaces.create({ ...input("Bad Name!"), idleTimeoutMinutes: 3 });
    await expect(refused).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const message = await refused.catch((error: Error) => error.message);
    expect(message).toContain("use 1–40 lowercase letters");
    expect(message).toContain("must be at least 5 minutes");
    await expect(
      api.workspaces.create({ ...input("ok"), branch: "--upload-pack=x" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("branch") });
  });

  it("keeps names unique per user, not across users", async () => {
    await expect(callerFor(context, alice).workspaces.create(input("first"))).rejects.toMatchObject(
      {
        code: "CONFLICT",
        message: expect.stringContaining('already have a workspace named "first"'),
      },
    );
    expect((await callerFor(context, bob).workspaces.create(input("first"))).name).toBe("first");
  });

  it("enforces the per-user limit, even under concurrent requests", async () => {
    const api = callerFor(context, alice);
    const results = await Promise.allSettled(
      ["second", "third", "fourth"].map((name) => api.workspaces.create(input(name))),
    );
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(2);
    const refused = results.find((result) => result.status === "rejected");
    expect(refused?.reason).toMatchObject({ code: "PRECONDITION_FAILED" });
    expect(await api.workspaces.list()).toHaveLength(3);
  });

  it("refuses an action the state machine does not allow with CONFLICT", async () => {
    const api = callerFor(context, alice);
    const [workspace] = await api.workspaces.list();
    await expect(api.workspaces.start({ id: workspace!.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("Cannot start a workspace that is provisioning"),
    });
  });

  it("answers NOT_FOUND to another user for every procedure on the workspace", async () => {
    const [workspace] = await callerFor(context, alice).workspaces.list();
    const api = callerFor(context, bob);
    const id = { id: workspace!.id };
    for (const call of [
      () => api.workspaces.get(id),
      () => api.workspaces.events(id),
      () => api.workspaces.jobLog(id),
      () => api.workspaces.stop(id),
      () => api.workspaces.start(id),
      () => api.workspaces.delete(id),
    ])
      await expect(call()).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await callerFor(context, alice).workspaces.get(id)).state).toBe("provisioning");
  });

  it("requires sign-in", async () => {
    await expect(callerFor(context, null).workspaces.list()).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
  });

  it("deletes: cancels waiting jobs and queues the delete", async () => {
    const api = callerFor(context, alice);
    const workspace = (await api.workspaces.list()).find((row) => row.name === "first")!;
    expect((await api.workspaces.delete({ id: workspace.id })).state).toBe("deleting");
    expect(await jobsOf(workspace.id)).toEqual([
      { kind: "workspace.provision", status: "canceled" },
      { kind: "workspace.delete", status: "queued" },
    ]);
    // Sent again (a retry after a lost answer): where the first got to, no second job.
    expect((await api.workspaces.delete({ id: workspace.id })).state).toBe("deleting");
    expect(await jobsOf(workspace.id)).toHaveLength(2);
  });

  it("answers a delete whose job already finished with the deleted workspace, not 'not found'", async () => {
    const carol = await createTestUser(context, "carol-deletes");
    const api = callerFor(context, carol);
    const { id } = await api.workspaces.create(input("gone"));
    await api.workspaces.delete({ id });
    await database.db
      .update(workspaces)
      .set({ state: "deleted", deletedAt: new Date() })
      .where(eq(workspaces.id, id));
    expect(await api.workspaces.delete({ id })).toMatchObject({ id, state: "deleted" });
    await expect(api.workspaces.stop({ id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    // Another user's delete of it is still "not found": the owner is in the where.
    await expect(callerFor(context, bob).workspaces.delete({ id })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });

  describe("idempotency keys (ADR 0025)", () => {
    it("answers a retried create with the workspace the first one made, never a second", async () => {
      const dave = await createTestUser(context, "dave-retries");
      const api = callerFor(context, dave);
      const key = "3f1c1a52-6a43-4d7e-9a51-0d6b1f0c9e11";
      const [first, second] = await Promise.all([
        api.workspaces.create({ ...input("retried"), idempotencyKey: key }),
        api.workspaces.create({ ...input("retried"), idempotencyKey: key }),
      ]);
      const third = await api.workspaces.create({ ...input("retried"), idempotencyKey: key });
      expect(second.id).toBe(first.id);
      expect(third).toMatchObject({ id: first.id, name: "retried", state: "provisioning" });
      const rows = await database.db
        .select({ id: workspaces.id })
        .from(workspaces)
        .where(eq(workspaces.userId, dave.id));
      expect(rows).toEqual([{ id: first.id }]);
      expect(await jobsOf(first.id)).toEqual([{ kind: "workspace.provision", status: "queued" }]);
    });

    it("refuses the same key with other settings, naming the field", async () => {
      const erin = await createTestUser(context, "erin-reuses");
      const api = callerFor(context, erin);
      await api.workspaces.create({ ...input("one"), idempotencyKey: "key-1" });
      const refused = api.workspaces.create({ ...input("two"), idempotencyKey: "key-1" });
      await expect(refused).rejects.toMatchObject({ code: "CONFLICT" });
      expect(await refused.catch((error: Error) => error.message)).toMatch(
        /already used to create the workspace "one" with other settings/,
      );
      // Keys are per user: another user's same key makes their own workspace.
      const frank = await createTestUser(context, "frank-keys");
      const other = await callerFor(context, frank).workspaces.create({
        ...input("bobs-one"),
        idempotencyKey: "key-1",
      });
      expect(other.name).toBe("bobs-one");
    });

    it("refuses an empty or an over-long key", async () => {
      const api = callerFor(context, alice);
      for (const idempotencyKey of ["", "k".repeat(201)])
        await expect(
          api.workspaces.create({ ...input("keyed"), idempotencyKey }),
        ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    });
  });

  it("refuses to delete an account that still has workspaces", async () => {
    await expect(
      callerFor(context, bob).account.delete({ confirmLogin: "bob" }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("Delete your workspaces first (first)"),
    });
  });
});

describe("workspaces.create asks GitHub first", () => {
  // Rows a refused create must not leave: its workspace, its job, its audit entry.
  const countRows = async () => ({
    workspaces: (await database.db.select({ n: count() }).from(workspaces))[0]!.n,
    jobs: (await database.db.select({ n: count() }).from(jobs))[0]!.n,
    audit: (await database.db.select({ n: count() }).from(auditLog))[0]!.n,
  });

  it("refuses a repository the user cannot read on GitHub, writing nothing", async () => {
    const carol = await createTestUser(context, "carol");
    const before = await countRows();
    // bob/private-code exists, but is bob's and private: GitHub answers carol 404.
    const refused = callerFor(context, carol).workspaces.create({
      name: "theirs",
      repository: "bob/private-code",
      branch: "main",
    });
    await expect(refused).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining("You have no access to bob/private-code on GitHub"),
    });
    await expect(refused).rejects.toThrow(/Pick one from the list of your repositories/);
    expect(await countRows()).toEqual(before);
    expect(await callerFor(context, carol).workspaces.list()).toEqual([]);
    // Its owner may.
    await expect(
      callerFor(context, bob).workspaces.create({
        name: "mine",
        repository: "bob/private-code",
        branch: "main",
      }),
    ).resolves.toMatchObject({ repository: "bob/private-code" });
  });

  it("refuses a branch the repository does not have, writing nothing", async () => {
    const carol = await createTestUser(context, "carol");
    const before = await countRows();
    await expect(
      callerFor(context, carol).workspaces.create({ ...input("nobranch"), branch: "no/such" }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining('stand-in/sample has no branch "no/such" on GitHub'),
    });
    expect(await countRows()).toEqual(before);
  });

  it("names the missing branch and its close matches, as a field error on branch", async () => {
    const standIn = await sharedGitHubStandIn();
    const repo = { owner: "erin", name: "branches" };
    if (!(await repositoryExists(standIn.reposDir, repo))) {
      await createRepository(standIn.reposDir, repo, { description: "b", commitSubject: "Start" });
      const gitDir = repositoryPath(standIn.reposDir, repo);
      for (const branch of ["develop", "feature/login", "release/2.0"])
        await runGit([`--git-dir=${gitDir}`, "branch", branch, "main"]);
    }
    const erin = await createTestUser(context, "erin");
    const before = await countRows();
    const create = (branch: string) =>
      callerFor(context, erin).workspaces.create({
        name: "b",
        repository: "erin/branches",
        branch,
      });
    const refused = create("devlop");
    await expect(refused).rejects.toMatchObject({
      code: "NOT_FOUND",
      message:
        'erin/branches has no branch "devlop" on GitHub. Pick one of: develop (or push the branch first).',
      cause: expect.objectContaining({ field: "branch" }),
    });
    await expect(create("feature/logn")).rejects.toThrow(/Pick one of: feature\/login/);
    await expect(create("zzz-unrelated")).rejects.toThrow(/Its default branch is main/);
    expect(await countRows()).toEqual(before);
    await expect(create("feature/login")).resolves.toMatchObject({ branch: "feature/login" });
  });

  it("says an empty repository has no branch to clone yet", async () => {
    const standIn = await sharedGitHubStandIn();
    const gitDir = repositoryPath(standIn.reposDir, { owner: "frank", name: "empty" });
    if (!(await repositoryExists(standIn.reposDir, { owner: "frank", name: "empty" })))
      await runGit(["init", "--quiet", "--bare", gitDir]);
    const frank = await createTestUser(context, "frank");
    await expect(
      callerFor(context, frank).workspaces.create({
        name: "e",
        repository: "frank/empty",
        branch: "main",
      }),
    ).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringContaining(
        "frank/empty is empty on GitHub: it has no branch to clone yet",
      ),
      cause: expect.objectContaining({ field: "branch" }),
    });
  });

  it("asks to sign in again when GitHub refuses the user's token", async () => {
    const row = await upsertGitHubUser(context.db, context.keyring, {
      profile: { id: 987_654, login: "stale", name: null, email: null, avatarUrl: null },
      accessToken: "gho_revoked",
      adminLogins: [],
    });
    const stale = { ...row, githubTokenEncrypted: undefined };
    await expect(callerFor(context, stale).workspaces.create(input("stale"))).rejects.toMatchObject(
      { code: "UNAUTHORIZED", message: expect.stringContaining("Sign out") },
    );
  });
});

describe("workspace settings: secrets and the longest working time (SPEC §14)", () => {
  let dave: AuthenticatedUser;
  beforeAll(async () => {
    dave = await createTestUser(context, "dave");
    const api = callerFor(context, dave);
    await api.secrets.set({ name: "OPENAI_API_KEY", value: "sk-o" });
    await api.secrets.set({ name: "ANTHROPIC_API_KEY", value: "sk-a" });
    await callerFor(context, bob).secrets.set({ name: "BOBS_KEY", value: "sk-b" });
  });

  it("creates with all secrets and 8 hours unless told otherwise", async () => {
    const workspace = await callerFor(context, dave).workspaces.create(input("defaults"));
    expect(workspace).toMatchObject({ secretNames: null, maxWorkingHours: 8 });
  });

  it("creates with a chosen subset, refusing names the user has no secret of", async () => {
    const api = callerFor(context, dave);
    const refused = api.workspaces.create({
      ...input("refused"),
      secretNames: ["OPENAI_API_KEY", "BOBS_KEY", "NOPE"],
    });
    await expect(refused).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("no secret named BOBS_KEY, NOPE"),
    });
    expect((await api.workspaces.list()).map((row) => row.name)).not.toContain("refused");
    const chosen = await api.workspaces.create({
      ...input("chosen"),
      secretNames: ["OPENAI_API_KEY", "OPENAI_API_KEY"],
      maxWorkingHours: 12,
    });
    expect(chosen).toMatchObject({ secretNames: ["OPENAI_API_KEY"], maxWorkingHours: 12 });
    await expect(
      api.workspaces.create({ ...input("too-long"), maxWorkingHours: 73 }),
    ).rejects.toThrow(/at most 72 hours/);
  });

  it("updates the settings later (audited), leaving out what is not given", async () => {
    const api = callerFor(context, dave);
    const { id } = (await api.workspaces.list()).find((row) => row.name === "chosen")!;
    const updated = await api.workspaces.update({
      id,
      secretNames: ["ANTHROPIC_API_KEY"],
      idleTimeoutMinutes: 45,
    });
    expect(updated).toMatchObject({
      secretNames: ["ANTHROPIC_API_KEY"],
      idleTimeoutMinutes: 45,
      maxWorkingHours: 12,
    });
    expect(
      await api.workspaces.update({ id, maxWorkingHours: 2, secretNames: null }),
    ).toMatchObject({ secretNames: null, maxWorkingHours: 2, idleTimeoutMinutes: 45 });
    const [audit] = await database.db
      .select({ details: auditLog.details })
      .from(auditLog)
      .where(eq(auditLog.action, "workspace.update"))
      .orderBy(desc(auditLog.id))
      .limit(1);
    expect(audit?.details).toEqual({ fields: "maxWorkingHours,secretNames" });
    await expect(api.workspaces.update({ id, secretNames: ["BOBS_KEY"] })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("no secret named BOBS_KEY"),
    });
    await expect(api.workspaces.update({ id, maxWorkingHours: 0 })).rejects.toThrow(
      /at least 1 hour/,
    );
    await expect(
      callerFor(context, bob).workspaces.update({ id, maxWorkingHours: 3 }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await api.workspaces.get({ id })).maxWorkingHours).toBe(2);
  });
});
