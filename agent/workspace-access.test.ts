import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAgentConfig } from "./config.ts";
import { createTestUser, skipUnlessRoot, type TestUser } from "./testing/test-users.ts";
import { openWorkspaceAccess } from "./workspace-access.ts";

const settings = {
  CONTROL_PLANE_URL: "https://cp.example",
  WORKSPACE_ID: "00000000-0000-4000-8000-000000000003",
  BOOTSTRAP_TOKEN: "cawb_x",
  STATE_DIR: "/var/lib/caw-state",
};
const open = (extra: Record<string, string> = {}) =>
  openWorkspaceAccess({
    config: readAgentConfig({ ...settings, ...extra }),
    cloneUrl: "http://127.0.0.1:9/stand-in/sample.git",
    ask: async () => {
      throw new Error("not asked here");
    },
    log: () => {},
  });

describe("openWorkspaceAccess", () => {
  it("keeps the agent's own user and state folder without WORKSPACE_USER", async () => {
    const access = await open();
    expect(access.user).toBeNull();
    expect(access.credentialHelper).toContain(" 'git-credential' '/var/lib/caw-state'");
    expect(access.mounts).toEqual([]);
    expect(access.environment.HOME).toBe(os.userInfo().homedir);
  });

  it.skipIf(skipUnlessRoot())("refuses a WORKSPACE_USER that does not exist", async () => {
    await expect(open({ WORKSPACE_USER: "cawt-missing" })).rejects.toThrow(/no such OS user/);
  });
});

describe.skipIf(skipUnlessRoot())("openWorkspaceAccess with WORKSPACE_USER", () => {
  let user: TestUser;
  let folder: string;
  beforeAll(async () => {
    user = await createTestUser();
    folder = await mkdtemp(path.join(os.tmpdir(), "caw-access-"));
  });
  afterAll(async () => {
    await user?.remove();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it("gives that user's login environment and the credential socket to git", async () => {
    const runtimeDir = path.join(folder, "run");
    const access = await open({ WORKSPACE_USER: user.username, AGENT_RUNTIME_DIR: runtimeDir });
    try {
      expect(access.user?.uid).toBe(user.uid);
      expect(access.environment).toMatchObject({ HOME: user.homedir, USER: user.username });
      const socket = path.join(runtimeDir, "git-credential.sock");
      expect(access.credentialHelper.endsWith(` 'git-credential' '${socket}'`)).toBe(true);
      expect((await stat(socket)).isSocket()).toBe(true);
      expect(access.mounts).toContain(runtimeDir);
    } finally {
      await access.close();
    }
  });
});
