import { useNavigate } from "@remix-run/react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { terminalPathOf } from "../lib/terminal-link.ts";
import { useTRPC } from "../lib/trpc.ts";
import { ConfirmDialog } from "./confirm-dialog.tsx";
import { ErrorAlert } from "./error-alert.tsx";

type Workspace = { id: string; name: string; state: string };

/** Open terminal, stop, start and delete, each offered only where the state allows it. */
export function WorkspaceActions({ workspace }: { workspace: Workspace }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState(false);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.workspaces.pathKey() });
  const options = { onSuccess: refresh };
  const stop = useMutation(trpc.workspaces.stop.mutationOptions(options));
  const start = useMutation(trpc.workspaces.start.mutationOptions(options));
  const remove = useMutation(
    trpc.workspaces.delete.mutationOptions({
      onSuccess: async () => {
        setConfirming(false);
        await refresh();
        navigate("/workspaces");
      },
    }),
  );
  const id = { id: workspace.id };
  const { state } = workspace;
  const busy = stop.isPending || start.isPending || remove.isPending;

  return (
    <div className="actions">
      {state === "running" ? (
        // The launcher signs the tab in with a short-lived token and follows the workspace.
        <a
          className="button primary"
          href={terminalPathOf(workspace.id)}
          target="_blank"
          rel="noopener"
        >
          Open terminal
        </a>
      ) : null}
      {["booting", "running", "error"].includes(state) ? (
        <button type="button" onClick={() => stop.mutate(id)} disabled={busy}>
          Stop
        </button>
      ) : null}
      {["stopped", "error"].includes(state) ? (
        <button type="button" onClick={() => start.mutate(id)} disabled={busy}>
          Start
        </button>
      ) : null}
      {!["deleting", "deleted"].includes(state) ? (
        <button
          type="button"
          className="danger"
          onClick={() => setConfirming(true)}
          disabled={busy}
        >
          Delete
        </button>
      ) : null}
      <ConfirmDialog
        open={confirming}
        title={`Delete ${workspace.name}?`}
        confirmLabel="Delete"
        typeToConfirm={workspace.name}
        pending={remove.isPending}
        onConfirm={() => remove.mutate(id)}
        onCancel={() => {
          remove.reset();
          setConfirming(false);
        }}
      >
        <p>
          Its server and its volume (the files in <code>/workspace</code>) go for good. This cannot
          be undone.
        </p>
        <ErrorAlert error={remove.error} />
      </ConfirmDialog>
      <ErrorAlert error={stop.error ?? start.error} />
    </div>
  );
}
