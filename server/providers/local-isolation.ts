import type { UserRole, WorkspaceProvider } from "../../db/schema.ts";
import { AppError } from "../errors.ts";

// Who may have a workspace on this machine (SPEC §10): the one home of that rule, read by the
// create procedure, `system.info` (the web app's notice) and the programs' start-up log.
// As root, every local workspace gets an OS user of its own, so anyone may have one. Without
// root all of them would run as the control plane's own user, able to read its secrets and
// each other's files, so only admins (who hold those secrets anyway) may.

export type WorkspaceAccess = {
  provider: WorkspaceProvider;
  /** `everyone`: each workspace is isolated (or on its own VM); `admins`: one-machine, no root. */
  allowed: "everyone" | "admins";
  /** What to tell people when not everyone may create workspaces. */
  notice: string | null;
};

export const adminOnlyNotice =
  "Workspaces run on this machine and the control plane does not run as root, so it cannot give each workspace an OS user of its own. Until it does, only admins can create workspaces. Run it as root, or use WORKSPACE_PROVIDER=hetzner.";

export function describeWorkspaceAccess(
  provider: WorkspaceProvider,
  runningAsRoot = isRunningAsRoot(),
): WorkspaceAccess {
  if (provider !== "local" || runningAsRoot) return { provider, allowed: "everyone", notice: null };
  return { provider, allowed: "admins", notice: adminOnlyNotice };
}

// A process's user does not change while it runs, and process.getuid showed in every
// system.info's profile (ADR 0029): asked again only when getuid itself is another function
// (a test's stand-in).
let askedGetuid: (() => number) | undefined;
let askedAnswer = false;

function isRunningAsRoot(): boolean {
  const getuid = process.getuid;
  if (getuid !== askedGetuid) {
    askedGetuid = getuid;
    askedAnswer = getuid?.call(process) === 0;
  }
  return askedAnswer;
}

export function assertMayCreateWorkspace(role: UserRole, access: WorkspaceAccess): void {
  if (access.allowed === "admins" && role !== "admin")
    throw new AppError("FORBIDDEN", `${access.notice} Ask an admin of this install.`);
}
