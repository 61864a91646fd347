import { and, desc, eq, inArray } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { jobs, workspaces, type WorkspaceState } from "../../db/schema.ts";
import { isRequiredBootStep, type BootProgressRequest } from "../../protocol/boot-progress.ts";
import { hashBearerToken } from "../crypto/bearer-token.ts";
import { AppError } from "../errors.ts";
import { appendJobEvent } from "../jobs/queue.ts";
import { authenticateAgent, type AgentWorkspace } from "./agents.ts";
import { formatBootReportLine } from "./boot-steps.ts";
import { transitionWorkspaceIf, workspaceJobKinds } from "./workspaces.ts";

// Boot progress from a workspace server (SPEC §9): its bootstrap and toolchain scripts, which
// hold only the bootstrap token, and its agent. Each report becomes a line in the job log of
// the job that made the server; a failed required step turns a booting workspace to `error`
// with the server's own reason, instead of a boot timeout 15 minutes later.

const bootingStates: WorkspaceState[] = ["provisioning", "starting", "booting"];
const bringUpKinds = [workspaceJobKinds.provision, workspaceJobKinds.start];

// Tokens are never logged, but a server's log may quote one back (a curl command line, a git
// remote with credentials): ours, GitHub's, and a user:password in a URL.
const tokenPatterns: [RegExp, string][] = [
  [/caw[a-z]_[A-Za-z0-9_-]+/g, "[token]"],
  [/\b(?:gh[opsur]_|github_pat_)[A-Za-z0-9_]+/g, "[token]"],
  [/\/\/[^/@\s:]+:[^/@\s]+@/g, "//[token]@"],
];

/** The workspace a boot report is for: by its bootstrap token (kept for reports) or agent token. */
export async function authenticateBootReport(db: Database, token: string): Promise<AgentWorkspace> {
  if (token.startsWith("cawa_")) return authenticateAgent(db, token);
  const [row] = await db
    .select()
    .from(workspaces)
    .where(eq(workspaces.bootReportTokenHash, hashBearerToken(token)));
  if (!row)
    throw new AppError(
      "UNAUTHORIZED",
      "Unknown boot report token. A server reports with the BOOTSTRAP_TOKEN of its own user data, until the workspace gets a new server.",
    );
  return row;
}

/** What a report's log tail is, in the job log: the script's log unless the step says. */
const logTailLabels: Partial<Record<BootProgressRequest["step"], string>> = {
  clone: "git's output",
  devcontainer: "devcontainer's output (last lines)",
};

export type BootReportOutcome = { recorded: boolean; state: WorkspaceState };

export async function recordBootProgress(
  db: Database,
  workspace: AgentWorkspace,
  report: BootProgressRequest,
): Promise<BootReportOutcome> {
  const jobId = await findBringUpJob(db, workspace.id);
  const failed = report.status === "failed";
  const line = formatBootReportLine(
    report.step,
    report.status,
    report.message ? redact(report.message) : undefined,
  );
  if (jobId !== null) {
    await appendJobEvent(
      db,
      jobId,
      failed ? (isRequiredBootStep(report.step) ? "error" : "warn") : "info",
      line,
    );
    if (report.logTail)
      await appendJobEvent(
        db,
        jobId,
        "info",
        `${logTailLabels[report.step] ?? "Server log (last lines)"}:\n${redact(report.logTail)}`,
      );
  }
  if (failed && isRequiredBootStep(report.step)) {
    const reason = failureReason(report);
    await transitionWorkspaceIf(db, workspace.id, bootingStates, "error", reason, "agent");
  }
  const [row] = await db
    .select({ state: workspaces.state })
    .from(workspaces)
    .where(eq(workspaces.id, workspace.id));
  return { recorded: jobId !== null, state: row?.state ?? workspace.state };
}

/** What the workspace page says for a failed required step; the clone's in git's words. */
function failureReason(report: BootProgressRequest): string {
  const message = report.message ? redact(report.message) : "";
  if (report.step === "clone")
    return `Could not clone the repository${message ? `: ${message}` : ""}. Check that the branch still exists on GitHub and the workspace's GitHub access, then start the workspace again, or delete it.`;
  return `The server could not boot: ${report.step} failed${message ? ` (${message})` : ""}. The job log has the end of the server's log; start the workspace again, or delete it.`;
}

async function findBringUpJob(db: Database, workspaceId: string): Promise<number | null> {
  const [job] = await db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.workspaceId, workspaceId), inArray(jobs.kind, bringUpKinds)))
    .orderBy(desc(jobs.id))
    .limit(1);
  return job?.id ?? null;
}

function redact(text: string): string {
  return tokenPatterns.reduce((out, [pattern, mark]) => out.replace(pattern, mark), text);
}
