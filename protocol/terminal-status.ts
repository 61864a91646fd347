import { z } from "zod";

// What the agent's terminal page asks the control plane when its socket closes (ADR 0022):
// the workspace's state and why, and whether a terminal can be opened. The page runs on the
// agent's origin, another site than the control plane's in the one-machine mode, so it proves
// who it is with the id of the terminal grant its cookie holds (a header, never a URL), not
// with the control plane's session cookie. Pure: schemas and constants, no I/O.

/** `GET ?workspace=<id>`: the workspace's state, for a live grant of it. */
export const terminalStatusPath = "/api/terminal/status";
/** `POST ?workspace=<id>`: starts the stopped workspace, for a live grant of it. */
export const terminalStartPath = "/api/terminal/start";
/** The header that carries the terminal grant's id (the terminal JWT's `jti`). */
export const terminalGrantHeader = "x-caw-terminal-grant";

/** The control plane's page that opens the workspace's current terminal (its current agent). */
export function terminalLauncherPath(workspaceId: string, session?: string | null): string {
  const query = session ? `?session=${encodeURIComponent(session)}` : "";
  return `/workspaces/${encodeURIComponent(workspaceId)}/terminal${query}`;
}

export const terminalStatusSchema = z.object({
  workspaceId: z.uuid(),
  name: z.string(),
  state: z.enum([
    "pending",
    "provisioning",
    "booting",
    "running",
    "stopping",
    "stopped",
    "starting",
    "deleting",
    "deleted",
    "error",
  ]),
  /** Why it is in that state, for people: "idle for 30 min", the error's message. */
  reason: z.string().nullable(),
  /** A terminal can be opened now (running, with an agent URL). */
  terminal: z.boolean(),
  /** Start is possible now (stopped or error). */
  startable: z.boolean(),
});
export type TerminalStatus = z.infer<typeof terminalStatusSchema>;

/**
 * What the agent hands its page (data attributes of #terminal): where the control plane is,
 * which workspace this is, and the grant behind this browser's cookie. No agent secret.
 */
export type TerminalPageConfig = {
  controlPlaneUrl: string;
  workspaceId: string;
  grantId: string | null;
};
