import { describe, expect, it } from "vitest";
import { sessionStatuses } from "../../protocol/agent-sessions.ts";
import {
  agentStatusLabels,
  describeAgo,
  mostUrgentStatus,
  notificationTitleOf,
  workspaceAgentStatus,
} from "./session-status.ts";

const sessions = (...statuses: (string | null)[]) =>
  statuses.map((status) => ({ status: status as (typeof sessionStatuses)[number] | null }));

describe("a workspace's agent status", () => {
  it("is the most urgent of its sessions: waiting, then error, then working, then done", () => {
    expect(mostUrgentStatus(sessions("done", "working", "error", "waiting", null))).toBe("waiting");
    expect(mostUrgentStatus(sessions("done", "working", "error"))).toBe("error");
    expect(mostUrgentStatus(sessions("done", null, "working"))).toBe("working");
    expect(mostUrgentStatus(sessions(null, "done"))).toBe("done");
    expect(mostUrgentStatus(sessions(null))).toBeNull();
    expect(mostUrgentStatus([])).toBeNull();
  });

  it("is 'Stopping soon' once the agent announced an idle stop, whatever the sessions say", () => {
    const soon = { idleStopAt: new Date("2030-01-01T00:00:00Z") };
    expect(workspaceAgentStatus(soon, sessions("waiting"))).toBe("stopping");
    expect(workspaceAgentStatus({ idleStopAt: null }, sessions("working"))).toBe("working");
    expect(agentStatusLabels.stopping).toBe("Stopping soon");
  });

  it("has a word for every status the protocol knows", () => {
    for (const status of sessionStatuses) expect(agentStatusLabels[status]).toMatch(/^[A-Z]/);
    expect(agentStatusLabels.waiting).toBe("Waiting for input");
  });
});

describe("notification titles and relative times", () => {
  it("names what happened and where", () => {
    expect(notificationTitleOf({ kind: "needs_input", workspaceName: "api" })).toBe(
      "Needs input · api",
    );
    expect(notificationTitleOf({ kind: "stopping_soon", workspaceName: "api" })).toBe(
      "Stopping soon · api",
    );
  });

  it("counts back from the given moment", () => {
    const now = Date.parse("2030-01-01T12:00:00Z");
    expect(describeAgo("2030-01-01T12:00:00Z", now)).toBe("just now");
    expect(describeAgo("2030-01-01T11:59:18Z", now)).toBe("42 s ago");
    expect(describeAgo("2030-01-01T11:55:00Z", now)).toBe("5 min ago");
    expect(describeAgo(new Date("2030-01-01T09:00:00Z"), now)).toBe("3 h ago");
    expect(describeAgo("2029-12-30T12:00:00Z", now)).toBe("2 d ago");
  });
});
