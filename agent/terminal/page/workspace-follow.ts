import {
  terminalGrantHeader,
  terminalLauncherPath,
  terminalStartPath,
  terminalStatusPath,
  type TerminalPageConfig,
  type TerminalStatus,
} from "../../../protocol/terminal-status.ts";

// When the terminal's socket closes, the page asks the control plane why (ADR 0022): the
// workspace is stopping, stopped (with the reason), starting, deleted or in error. It says so,
// offers Start where that is possible, and once the workspace runs again on a new agent, goes
// to the control plane's launcher, which sends it to that agent with a fresh link for the same
// session. While the workspace still runs (an agent restart), the socket just reconnects.

const pollMs = 2_000;
// Running, yet the socket has not come back for this many answers: the agent moved (e.g. the
// one-machine mode restarted with new ports); the launcher knows where it is now.
const maxRunningPollsWithoutSocket = 8;

export type FollowerUi = {
  /** Shows what the workspace is doing, with Start when `startable`; null hides it. */
  show: (view: { message: string; startable: boolean; state: string } | null) => void;
  /** The connection state line (status attribute and text). */
  setStatus: (status: "reconnecting" | "closed", text: string) => void;
  /** Stops (true) or resumes (false) reconnecting to this agent. */
  hold: (held: boolean) => void;
  currentSession: () => string | null;
};

export function createWorkspaceFollower(config: TerminalPageConfig, ui: FollowerUi) {
  const base = config.controlPlaneUrl.replace(/\/+$/, "");
  const query = `?workspace=${encodeURIComponent(config.workspaceId)}`;
  const headers = { [terminalGrantHeader]: config.grantId ?? "" };
  let timer: ReturnType<typeof setTimeout> | null = null;
  let wentDown = false;
  let runningPolls = 0;
  let polling = false;

  const follow = () =>
    location.assign(`${base}${terminalLauncherPath(config.workspaceId, ui.currentSession())}`);
  const ask = async (path: string, method: "GET" | "POST"): Promise<Answer> => {
    const response = await fetch(`${base}${path}${query}`, { method, headers, cache: "no-store" });
    if (response.ok) return { status: (await response.json()) as TerminalStatus };
    const problem = (await response.json().catch(() => null)) as { detail?: string } | null;
    return { refused: response.status, detail: problem?.detail ?? `HTTP ${response.status}` };
  };
  const poll = async () => {
    timer = null;
    const answer = await ask(terminalStatusPath, "GET").catch(() => null);
    if (timer !== null || !polling) return;
    if (!answer)
      ui.setStatus(
        "reconnecting",
        "Connection lost, and the control plane does not answer either; retrying…",
      );
    else if ("refused" in answer) return showRefusal(answer.refused, answer.detail);
    else if (handleStatus(answer.status)) return;
    timer = setTimeout(() => void poll(), pollMs);
  };
  /** True when there is nothing more to wait for here (following, or access ended). */
  const handleStatus = (status: TerminalStatus): boolean => {
    if (status.state === "running" && status.terminal) {
      runningPolls += 1;
      if (wentDown || runningPolls >= maxRunningPollsWithoutSocket) {
        ui.setStatus("closed", "The workspace is running again; opening its terminal…");
        follow();
        return true;
      }
      return false;
    }
    wentDown = true;
    ui.hold(true);
    // The panel says it all; the status line would only repeat it.
    ui.setStatus("closed", "");
    ui.show({ message: describeState(status), startable: status.startable, state: status.state });
    return status.state === "deleted";
  };
  const showRefusal = (code: number, detail: string) => {
    ui.hold(true);
    ui.setStatus("closed", detail);
    ui.show({
      message: detail,
      startable: false,
      state: code === 401 ? "access-ended" : "unknown",
    });
  };
  return {
    /** The socket closed (not for good): find out why, and keep asking until it is back. */
    disconnected() {
      if (polling) return;
      polling = true;
      runningPolls = 0;
      void poll();
    },
    connected() {
      polling = false;
      if (timer) clearTimeout(timer);
      timer = null;
      ui.show(null);
    },
    async start() {
      const answer = await ask(terminalStartPath, "POST").catch(() => null);
      if (!answer) return ui.setStatus("closed", "The control plane does not answer; try again.");
      if ("refused" in answer)
        return ui.show({ message: answer.detail, startable: true, state: "error" });
      handleStatus(answer.status);
    },
    launcherUrl: () => `${base}${terminalLauncherPath(config.workspaceId, ui.currentSession())}`,
    /** The workspace's page; the list once it is deleted. */
    workspaceUrl: (state: string) =>
      state === "deleted"
        ? `${base}/workspaces`
        : `${base}/workspaces/${encodeURIComponent(config.workspaceId)}`,
  };
}

type Answer = { status: TerminalStatus } | { refused: number; detail: string };

export type WorkspaceFollower = ReturnType<typeof createWorkspaceFollower>;

function describeState(status: TerminalStatus): string {
  const why = status.reason ? `: ${status.reason}` : "";
  switch (status.state) {
    case "stopping":
      return `Stopping…${status.reason ? ` (${status.reason})` : ""}`;
    case "stopped":
      return `Stopped${why}. Your files are kept; start it to continue.`;
    case "deleting":
      return "Deleting…";
    case "deleted":
      return "Deleted. This workspace and its files are gone.";
    case "error":
      return `Error${why}`;
    case "starting":
      return "Starting…";
    default:
      return `Starting… (${status.state})`;
  }
}

/** The page's settings from #terminal's data attributes; null when the agent gave none. */
export function readPageConfig(container: HTMLElement): TerminalPageConfig | null {
  const { controlPlane, workspace, grant } = container.dataset;
  if (!controlPlane || !workspace) return null;
  return { controlPlaneUrl: controlPlane, workspaceId: workspace, grantId: grant || null };
}
