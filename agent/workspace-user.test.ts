import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestGroup,
  createTestUser,
  skipUnlessRoot,
  type TestUser,
} from "./testing/test-users.ts";
import { commandAs, lookupWorkspaceUser } from "./workspace-user.ts";

const run = promisify(execFile);
const skip = skipUnlessRoot();

let user: TestUser;
let group: { name: string; remove(): Promise<void> };
beforeAll(async () => {
  if (skip) return;
  group = await createTestGroup(); // stands in for `docker`
  user = await createTestUser({ groups: [group.name] });
});
afterAll(async () => {
  await user?.remove();
  await group?.remove();
});

describe.skipIf(skip)("the workspace user", () => {
  it("is read from its passwd entry", async () => {
    expect(await lookupWorkspaceUser(user.username)).toEqual({
      username: user.username,
      uid: user.uid,
      gid: user.gid,
      homedir: user.homedir,
      shell: "/bin/bash",
    });
  });

  it("runs commands with its own uid and groups, none of root's and no capabilities", async () => {
    const command = commandAs(user, "/bin/sh", ["-c", "id -G; cat /proc/self/status"]);
    const { stdout } = await run(command.file, command.args);
    const [groups, ...status] = stdout.split("\n");
    const { stdout: groupId } = await run("getent", ["group", group.name]);
    const extraGroup = Number(groupId.split(":")[2]);
    expect(groups!.split(" ").map(Number).sort()).toEqual([user.gid, extraGroup].sort());
    const field = (name: string) => status.find((line) => line.startsWith(`${name}:`));
    // Real, effective, saved and filesystem ids: none left at 0 to switch back to.
    expect(field("Uid")?.split(/\s+/).slice(1)).toEqual(Array(4).fill(String(user.uid)));
    expect(field("Gid")?.split(/\s+/).slice(1)).toEqual(Array(4).fill(String(user.gid)));
    expect(field("CapEff")).toMatch(/^CapEff:\s+0+$/);
  });

  it("refuses a missing user and root, saying what to do", async () => {
    await expect(lookupWorkspaceUser("cawt-nobody-here")).rejects.toThrow(
      /no such OS user: create it .* or unset WORKSPACE_USER/,
    );
    await expect(lookupWorkspaceUser("root")).rejects.toThrow(/must be an unprivileged user/);
  });

  it("leaves commands unchanged without a user (the one-machine mode)", () => {
    expect(commandAs(null, "git", ["status"])).toEqual({ file: "git", args: ["status"] });
  });
});
