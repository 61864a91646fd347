import { useState, type FormEvent } from "react";
import type { JobStatus } from "../../db/schema.ts";

export type JobFilterValues = { status?: JobStatus; kind?: string; workspaceId?: string };

const statuses = [
  "queued",
  "running",
  "succeeded",
  "failed",
  "canceled",
] as const satisfies readonly JobStatus[];

/** Status, kind and workspace filters; applied on submit so typing does not query each key. */
export function AdminJobFilters({
  kinds,
  onApply,
}: {
  kinds: string[];
  onApply: (filter: JobFilterValues) => void;
}) {
  const [status, setStatus] = useState("");
  const [kind, setKind] = useState("");
  const [workspaceId, setWorkspaceId] = useState("");

  function submit(event: FormEvent) {
    event.preventDefault();
    onApply({
      status: (status || undefined) as JobStatus | undefined,
      kind: kind.trim() || undefined,
      workspaceId: workspaceId.trim() || undefined,
    });
  }

  return (
    <form onSubmit={submit} className="inline-form" aria-label="Filter jobs">
      <label>
        Status
        <select value={status} onChange={(event) => setStatus(event.target.value)} name="status">
          <option value="">any</option>
          {statuses.map((value) => (
            <option key={value} value={value}>
              {value}
            </option>
          ))}
        </select>
      </label>
      <label>
        Kind
        <input
          value={kind}
          onChange={(event) => setKind(event.target.value)}
          name="kind"
          list="admin-job-kinds"
          placeholder="any"
          maxLength={100}
        />
        <datalist id="admin-job-kinds">
          {kinds.map((value) => (
            <option key={value} value={value} />
          ))}
        </datalist>
      </label>
      <label>
        Workspace id
        <input
          value={workspaceId}
          onChange={(event) => setWorkspaceId(event.target.value)}
          name="workspaceId"
          placeholder="any"
          spellCheck={false}
        />
      </label>
      <button type="submit">Filter</button>
    </form>
  );
}
