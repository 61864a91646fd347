import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { sessionNameSchema, type SessionInfo } from "../../protocol/agent-sessions.ts";
import { describeAgo } from "../lib/session-status.ts";
import { terminalPathOf } from "../lib/terminal-link.ts";
import { useTRPC } from "../lib/trpc.ts";
import { ConfirmDialog } from "./confirm-dialog.tsx";
import { ErrorAlert } from "./error-alert.tsx";
import { AgentStatusBadge } from "./terminal-sessions-status.tsx";

/** The first rule a name breaks (the API's own schema), or null. */
function nameProblemOf(name: string): string | null {
  const parsed = sessionNameSchema.safeParse(name);
  return parsed.success ? null : (parsed.error.issues[0]?.message ?? "not a valid name");
}

type RowProps = {
  workspaceId: string;
  session: SessionInfo;
  now: number;
  onChange: () => Promise<unknown>;
};

/** One session: open it in a terminal tab, rename it in place, or end it. */
export function TerminalSessionRow({ workspaceId, session, now, onChange }: RowProps) {
  const trpc = useTRPC();
  const [renaming, setRenaming] = useState(false);
  const { name } = session;
  const end = useMutation(trpc.sessions.end.mutationOptions({ onSuccess: onChange }));
  const [ending, setEnding] = useState(false);

  return (
    <tr data-testid="terminal-session-row" data-session={name}>
      <td>
        {renaming ? (
          <RenameForm
            workspaceId={workspaceId}
            name={name}
            onDone={() => setRenaming(false)}
            onChange={onChange}
          />
        ) : (
          <strong>{name}</strong>
        )}
      </td>
      <td>
        <time dateTime={session.startedAt} title={new Date(session.startedAt).toLocaleString()}>
          {describeAgo(session.startedAt, now)}
        </time>
      </td>
      <td>
        {session.lastOutputAt ? (
          <time
            dateTime={session.lastOutputAt}
            title={new Date(session.lastOutputAt).toLocaleString()}
          >
            {describeAgo(session.lastOutputAt, now)}
          </time>
        ) : (
          <span className="hint">none yet</span>
        )}
      </td>
      <td>
        <AgentStatusBadge status={session.status} message={session.statusMessage} />
      </td>
      <td>
        <div className="row">
          <a
            className="button"
            href={terminalPathOf(workspaceId, name)}
            target="_blank"
            rel="noopener"
            aria-label={`Open ${name}`}
          >
            Open
          </a>
          {renaming ? null : (
            <button type="button" onClick={() => setRenaming(true)} aria-label={`Rename ${name}`}>
              Rename
            </button>
          )}
          <button
            type="button"
            className="danger"
            onClick={() => setEnding(true)}
            disabled={end.isPending}
            aria-label={`End ${name}`}
          >
            End
          </button>
        </div>
        <ConfirmDialog
          open={ending}
          title={`End the session ${name}?`}
          confirmLabel="End session"
          pending={end.isPending}
          onConfirm={() => end.mutate({ workspaceId, name }, { onSuccess: () => setEnding(false) })}
          onCancel={() => {
            end.reset();
            setEnding(false);
          }}
        >
          <p>Whatever runs in it is stopped.</p>
          <ErrorAlert error={end.error} />
        </ConfirmDialog>
      </td>
    </tr>
  );
}

type RenameProps = {
  workspaceId: string;
  name: string;
  onDone: () => void;
  onChange: () => Promise<unknown>;
};

function RenameForm({ workspaceId, name, onDone, onChange }: RenameProps) {
  const trpc = useTRPC();
  const [newName, setNewName] = useState(name);
  const rename = useMutation(
    trpc.sessions.rename.mutationOptions({
      onSuccess: async () => {
        await onChange();
        onDone();
      },
    }),
  );
  const problem = nameProblemOf(newName.trim());

  function submit(event: FormEvent) {
    event.preventDefault();
    if (problem) return;
    if (newName.trim() === name) return onDone();
    rename.mutate({ workspaceId, name, newName: newName.trim() });
  }

  return (
    <form onSubmit={submit} className="inline-form" noValidate>
      <label>
        New name
        <input
          value={newName}
          onChange={(event) => setNewName(event.target.value)}
          name="sessionName"
          autoComplete="off"
          spellCheck={false}
          maxLength={40}
          // The user just asked to type a name.
          autoFocus
          aria-invalid={problem ? true : undefined}
        />
        {problem ? <span className="bad">Name: {problem}.</span> : null}
      </label>
      <button type="submit" disabled={rename.isPending || Boolean(problem)}>
        Save
      </button>
      <button type="button" onClick={onDone}>
        Cancel
      </button>
      <ErrorAlert error={rename.error} />
    </form>
  );
}
