import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { users, workspaces } from "../../db/schema.ts";
import { generateBearerToken, hashBearerToken } from "../crypto/bearer-token.ts";
import { dataOf, startSignInHarness, type SignInHarness } from "../testing/test-sign-in.ts";

// SPEC §14 over real HTTP: a user sets secrets through tRPC, picks a subset for a workspace,
// and the workspace's agent fetches them from GET /api/agent/secrets. A unique marker value
// must never show up in a log line of the web server, an error answer or a URL.

let harness: SignInHarness;
let cookie: string;
let userId: string;
const marker = `marker-${randomUUID()}`;
const errors: string[] = [];

beforeAll(async () => {
  harness = await startSignInHarness();
  cookie = await harness.signIn("secret-keeper");
  const [user] = await harness.database.db
    .select({ id: users.id })
    .from(users)
    .where(eq(users.login, "secret-keeper"));
  userId = user!.id;
});
afterAll(() => harness?.close());

const mutate = async (procedure: string, input: unknown) => {
  const answer = await harness.mutate(procedure, { cookie }, input);
  if (answer.status !== 200) errors.push(JSON.stringify(answer.body));
  return answer;
};

const askSecrets = async (agentToken: string) => {
  const response = await fetch(`${harness.baseUrl}/api/agent/secrets`, {
    headers: { authorization: `Bearer ${agentToken}` },
  });
  const text = await response.text();
  return { response, text };
};

/**
 * A running workspace of the user with an agent token of its own. (The harness's web server
 * reports a test version, so a real bootstrap would be refused as a version mismatch.)
 */
async function runningAgent(secretNames: string[] | null) {
  const agentToken = generateBearerToken("cawa_");
  const [row] = await harness.database.db
    .insert(workspaces)
    .values({
      userId,
      name: `ws-${Math.random().toString(36).slice(2, 8)}`,
      repository: "stand-in/sample",
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
      state: "running",
      secretNames,
      agentTokenHash: hashBearerToken(agentToken),
    })
    .returning({ id: workspaces.id });
  return { id: row!.id, agentToken };
}

describe("GET /api/agent/secrets", () => {
  it("answers the workspace's secrets to its agent, the chosen subset after an update", async () => {
    expect((await mutate("secrets.set", { name: "MARKED", value: marker })).status).toBe(200);
    expect((await mutate("secrets.set", { name: "OTHER", value: "other-value" })).status).toBe(200);
    const listed = await harness.query("secrets.list", { cookie });
    expect(dataOf<{ name: string }[]>(listed.body).map((secret) => secret.name)).toEqual([
      "MARKED",
      "OTHER",
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(marker);

    const agent = await runningAgent(null);
    const all = await askSecrets(agent.agentToken);
    expect(all.response.status).toBe(200);
    expect(all.response.headers.get("cache-control")).toBe("no-store");
    expect(JSON.parse(all.text)).toEqual({ secrets: { MARKED: marker, OTHER: "other-value" } });

    const updated = await mutate("workspaces.update", { id: agent.id, secretNames: ["OTHER"] });
    expect(updated.status).toBe(200);
    expect(JSON.stringify(updated.body)).not.toContain(marker);
    expect(JSON.parse((await askSecrets(agent.agentToken)).text)).toEqual({
      secrets: { OTHER: "other-value" },
    });

    // A changed value reaches the next fetch (the next new shell) with no restart.
    await mutate("workspaces.update", { id: agent.id, secretNames: null });
    await mutate("secrets.set", { name: "MARKED", value: `${marker}-2` });
    expect(JSON.parse((await askSecrets(agent.agentToken)).text).secrets.MARKED).toBe(
      `${marker}-2`,
    );
  });

  it("refuses a stopped workspace, an unknown token and a bad value, quoting no value", async () => {
    const agent = await runningAgent(null);
    await harness.database.db
      .update(workspaces)
      .set({ state: "stopped" })
      .where(eq(workspaces.id, agent.id));
    const stopped = await askSecrets(agent.agentToken);
    expect(stopped.response.status).toBe(403);
    expect(stopped.text).toContain("The workspace is stopped");
    errors.push(stopped.text);
    const unknown = await askSecrets(generateBearerToken("cawa_"));
    expect(unknown.response.status).toBe(401);
    errors.push(unknown.text);

    const bad = await mutate("secrets.set", { name: "MARKED", value: `${marker}\0` });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("NUL");
    const badName = await mutate("secrets.set", { name: "bad name", value: marker });
    expect(badName.status).toBe(400);
    const unknownName = await mutate("workspaces.update", { id: agent.id, secretNames: ["NOPE"] });
    expect(JSON.stringify(unknownName.body)).toContain("no secret named NOPE");
  });

  it("left the marker in no log line and no error answer", () => {
    expect(errors.length).toBeGreaterThanOrEqual(4);
    expect(harness.logLines.length).toBeGreaterThan(0);
    // The request lines were logged, by path only.
    expect(harness.logLines.join("\n")).toContain("/api/agent/secrets");
    for (const line of [...harness.logLines, ...errors]) expect(line).not.toContain(marker);
  });
});
