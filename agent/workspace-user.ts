import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileExists } from "./file-exists.ts";

const run = promisify(execFile);

// On a VM the agent stays root (it binds 443 and manages the machine) and runs what the person
// at the terminal gets (shells, git, the devcontainer CLI) as the unprivileged WORKSPACE_USER.
//
// Through setpriv(1), not the uid/gid options of child_process or node-pty: libuv drops every
// supplementary group when it changes the uid, so the user would lose `docker` (and with it
// the devcontainer), and node-pty keeps root's, so the shell would stay in group root.
// `setpriv --init-groups` gives exactly the user's groups from /etc/group, as login(1) does.

export type WorkspaceUser = {
  username: string;
  uid: number;
  gid: number;
  homedir: string;
  shell: string;
};

const setprivPath = "/usr/bin/setpriv";

/** The passwd entry of `name` (through NSS, as login does). Throws with the fix when unusable. */
export async function lookupWorkspaceUser(name: string): Promise<WorkspaceUser> {
  const line = await run("getent", ["passwd", name]).then(
    (result) => result.stdout.trim(),
    () => "", // exit 2: no such user
  );
  const [username, , uid, gid, , homedir, shell] = line.split(":");
  if (!username || !homedir || !/^\d+$/.test(uid ?? "") || !/^\d+$/.test(gid ?? ""))
    throw new Error(
      `WORKSPACE_USER is "${name}", but there is no such OS user: create it (the bootstrap ` +
        "script does) or unset WORKSPACE_USER to run shells as the agent's own user.",
    );
  if (Number(uid) === 0)
    throw new Error(`WORKSPACE_USER "${name}" is root; it must be an unprivileged user.`);
  if (!(await fileExists(setprivPath)))
    throw new Error(
      `${setprivPath} is missing; it runs shells as WORKSPACE_USER. Install util-linux.`,
    );
  return { username, uid: Number(uid), gid: Number(gid), homedir, shell: shell || "/bin/bash" };
}

/** `file args`, run as `user` with its own groups; unchanged without a user. */
export function commandAs(
  user: WorkspaceUser | null,
  file: string,
  args: readonly string[],
): { file: string; args: string[] } {
  if (!user) return { file, args: [...args] };
  const identity = ["--reuid", String(user.uid), "--regid", String(user.gid), "--init-groups"];
  return { file: setprivPath, args: [...identity, "--", file, ...args] };
}
