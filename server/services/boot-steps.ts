import { and, asc, desc, eq, gte, inArray } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { jobEvents, jobs, workspaceEvents } from "../../db/schema.ts";
import { bootSteps, bootStepStatuses, type BootStep } from "../../protocol/boot-progress.ts";
import type { Owner } from "./owner.ts";
import { getWorkspace, workspaceJobKinds } from "./workspaces.ts";

// A workspace's boot as steps (issue #14, ADR 0023): queued, creating server, booting,
// installing agent, cloning, starting devcontainer, ready, each with its times. No table of
// their own: the newest bring-up job (its times and log lines, where boot reports land as
// `Server: <step> <status>[: message]`) and the workspace's timeline since that job say it all.

export const bootStepIds = [
  "queued",
  "creating-server",
  "booting",
  "installing-agent",
  "cloning",
  "devcontainer",
  "ready",
] as const;
export type BootStepId = (typeof bootStepIds)[number];

export type BootStepState = "waiting" | "active" | "done" | "failed" | "skipped";

export type BootStepView = {
  id: BootStepId;
  label: string;
  state: BootStepState;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The last thing said about it: a report's message, or the reason of a failure. */
  message: string | null;
};

const labels: Record<BootStepId, string> = {
  queued: "Queued",
  "creating-server": "Creating server",
  booting: "Booting",
  "installing-agent": "Installing agent",
  cloning: "Cloning",
  devcontainer: "Starting devcontainer",
  ready: "Ready",
};

/** Which shown step each reported boot step belongs to. */
const reportedAs: Record<BootStep, BootStepId> = {
  bootstrap: "booting",
  "workspace-user": "booting",
  "mount-volume": "booting",
  packages: "booting",
  toolchain: "booting",
  "download-agent": "installing-agent",
  "verify-agent": "installing-agent",
  "start-agent": "installing-agent",
  clone: "cloning",
  devcontainer: "devcontainer",
};

/** The job-log line of a boot report: the one format recordBootProgress writes. */
export function formatBootReportLine(step: BootStep, status: string, message?: string): string {
  return `Server: ${step} ${status}${message ? `: ${message}` : ""}`;
}

// eslint-disable-next-line security/detect-non-literal-regexp -- built once from our own constant step and status names (letters and dashes only), anchored, no nested quantifier
const reportLine = new RegExp(
  `^Server: (${bootSteps.join("|")}) (${bootStepStatuses.join("|")})(?:: ([\\s\\S]*))?$`,
);

type Report = { step: BootStepId; status: string; message: string | null; at: Date };

function parseReport(line: { message: string; occurredAt: Date }): Report | null {
  const match = reportLine.exec(line.message);
  if (!match) return null;
  const step = reportedAs[match[1] as BootStep];
  return { step, status: match[2]!, message: match[3] ?? null, at: line.occurredAt };
}

/** The steps of the workspace's newest provision or start, or none before its first. */
export async function readBootSteps(
  db: Database,
  owner: Owner,
  id: string,
): Promise<BootStepView[]> {
  const workspace = await getWorkspace(db, owner, id);
  const [job] = await db
    .select({ id: jobs.id, createdAt: jobs.createdAt, startedAt: jobs.startedAt })
    .from(jobs)
    .where(
      and(
        eq(jobs.workspaceId, workspace.id),
        inArray(jobs.kind, [workspaceJobKinds.provision, workspaceJobKinds.start]),
      ),
    )
    .orderBy(desc(jobs.id))
    .limit(1);
  if (!job) return [];
  const [lines, timeline] = await Promise.all([
    db
      .select({ message: jobEvents.message, occurredAt: jobEvents.occurredAt })
      .from(jobEvents)
      .where(eq(jobEvents.jobId, job.id))
      .orderBy(asc(jobEvents.id)),
    db
      .select({
        toState: workspaceEvents.toState,
        occurredAt: workspaceEvents.occurredAt,
        reason: workspaceEvents.reason,
      })
      .from(workspaceEvents)
      .where(
        and(
          eq(workspaceEvents.workspaceId, workspace.id),
          gte(workspaceEvents.occurredAt, job.createdAt),
        ),
      )
      .orderBy(asc(workspaceEvents.id)),
  ]);
  const reports = lines.map(parseReport).filter((report): report is Report => report !== null);
  return deriveBootSteps({ job, firstLineAt: lines[0]?.occurredAt ?? null, reports, timeline });
}

type Evidence = {
  job: { createdAt: Date; startedAt: Date | null };
  firstLineAt: Date | null;
  reports: Report[];
  timeline: { toState: string; occurredAt: Date; reason: string }[];
};

/** The steps from what was recorded; pure, so every combination is testable. */
export function deriveBootSteps(evidence: Evidence): BootStepView[] {
  const reached = (state: string) =>
    evidence.timeline.find((event) => event.toState === state) ?? null;
  const booting = reached("booting");
  const running = reached("running");
  const failure = reached("error");
  const workerStart = evidence.job.startedAt ?? evidence.firstLineAt;
  const steps: BootStepView[] = bootStepIds.map((stepId) => ({
    id: stepId,
    label: labels[stepId],
    state: "waiting",
    startedAt: null,
    finishedAt: null,
    message: null,
  }));
  const step = (stepId: BootStepId) => steps[bootStepIds.indexOf(stepId)]!;
  Object.assign(step("queued"), timed(evidence.job.createdAt, workerStart));
  if (workerStart) Object.assign(step("creating-server"), timed(workerStart, booting?.occurredAt));
  for (const report of evidence.reports) applyReport(step(report.step), report);
  if (running)
    Object.assign(step("ready"), {
      state: "done",
      startedAt: running.occurredAt,
      finishedAt: running.occurredAt,
    });
  settleBetween(steps, Boolean(running));
  if (failure && !running) markFailure(steps, failure);
  return steps;
}

function timed(startedAt: Date, finishedAt: Date | null | undefined): Partial<BootStepView> {
  return { startedAt, finishedAt: finishedAt ?? null, state: finishedAt ? "done" : "active" };
}

/** A report moves its step: the first start, the last end, a failure sticks. */
function applyReport(view: BootStepView, report: Report): void {
  view.startedAt ??= report.at;
  if (report.message) view.message = report.message;
  if (report.status === "failed") Object.assign(view, { state: "failed", finishedAt: report.at });
  else if (report.status === "done" && view.state !== "failed")
    Object.assign(view, { state: "done", finishedAt: report.at });
  else if (view.state === "waiting") view.state = "active";
}

/**
 * Steps nobody reported (the one-machine mode has no bootstrap script; a repository without a
 * devcontainer has none to start) are skipped once a later step has begun; a step still
 * "active" when a later one began is done by then.
 */
function settleBetween(steps: BootStepView[], ready: boolean): void {
  for (let index = 0; index < steps.length - 1; index += 1) {
    const view = steps[index]!;
    const later = steps.slice(index + 1).find((next) => next.startedAt !== null);
    if (view.state === "waiting" && (later || (ready && view.id === "devcontainer")))
      view.state = "skipped";
    if (view.state === "active" && later && view.id !== "devcontainer")
      Object.assign(view, { state: "done", finishedAt: later.startedAt });
  }
}

/** The workspace went to error while booting: the step under way failed, with the reason. */
function markFailure(steps: BootStepView[], failure: { occurredAt: Date; reason: string }) {
  if (steps.some((view) => view.state === "failed")) return;
  const current =
    [...steps].reverse().find((view) => view.state === "active") ??
    steps.find((view) => view.state === "waiting");
  if (!current) return;
  Object.assign(current, {
    state: "failed",
    startedAt: current.startedAt ?? failure.occurredAt,
    finishedAt: failure.occurredAt,
    message: failure.reason,
  });
}
