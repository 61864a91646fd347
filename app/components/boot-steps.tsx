import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";

// The workspace's newest provision or start as steps (workspaces.bootSteps, ADR 0023): what
// is done, what is under way and since when, and what failed in whose words. A failed
// devcontainer is a warning: the workspace runs, its terminals open on the server itself.

type Step = {
  id: string;
  label: string;
  state: "waiting" | "active" | "done" | "failed" | "skipped";
  startedAt: Date | null;
  finishedAt: Date | null;
  message: string | null;
};

const stateWords: Record<Step["state"], string> = {
  waiting: "waiting",
  active: "under way",
  done: "done",
  failed: "failed",
  skipped: "not needed",
};

/** "12:00:01, 2.4 s" for a finished step; the start for one under way; nothing before. */
function describeTimes(step: Step): string {
  if (!step.startedAt) return "";
  const start = step.startedAt.toLocaleTimeString();
  if (!step.finishedAt) return `since ${start}`;
  const seconds = (step.finishedAt.getTime() - step.startedAt.getTime()) / 1000;
  return `${start}, ${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
}

/** Until ready or a failure: between two steps none is under way, yet the boot goes on. */
const isUnfinished = (steps: Step[] | undefined) =>
  steps !== undefined &&
  steps.length > 0 &&
  !steps.some((step) => step.state === "failed" && step.id !== "devcontainer") &&
  steps.at(-1)?.state !== "done";

/**
 * Asked again every second while the boot is unfinished, every 10 s after (a Start makes a new
 * boot); a live push may refresh it sooner.
 */
export function BootSteps({ id }: { id: string }) {
  const trpc = useTRPC();
  const steps = useQuery({
    ...trpc.workspaces.bootSteps.queryOptions({ id }),
    refetchInterval: (query) => (isUnfinished(query.state.data) ? 1_000 : 10_000),
  });
  if (!steps.data) return <ErrorAlert error={steps.error} />;
  if (steps.data.length === 0) return null;
  return (
    <section className="card" aria-labelledby="boot-steps-heading">
      <h2 id="boot-steps-heading">Boot steps</h2>
      <ol className="log" data-testid="boot-steps">
        {steps.data.map((step) => (
          <BootStepItem key={step.id} step={step} />
        ))}
      </ol>
    </section>
  );
}

function BootStepItem({ step }: { step: Step }) {
  // Only the devcontainer may fail and leave a working workspace: a warning, not an error.
  const failedClass = step.id === "devcontainer" ? "log-warn" : "bad";
  return (
    <li
      data-step={step.id}
      data-state={step.state}
      className={step.state === "failed" ? failedClass : step.state === "skipped" ? "hint" : ""}
      aria-current={step.state === "active" ? "step" : undefined}
    >
      <strong>{step.label}</strong>: {stateWords[step.state]}
      {step.startedAt ? <time> ({describeTimes(step)})</time> : null}
      {step.message ? <span> — {step.message}</span> : null}
    </li>
  );
}
