import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "../lib/trpc.ts";
import { useWorkspaceProvider } from "../lib/workspace-provider.ts";
import { ConfirmDialog } from "./confirm-dialog.tsx";
import { ErrorAlert } from "./error-alert.tsx";

/**
 * The user's Hetzner Cloud API token, when workspaces run on Hetzner; in the one-machine mode
 * there is no Hetzner to talk to, so no section.
 */
export function HetznerTokenSection() {
  return useWorkspaceProvider() === "hetzner" ? <HetznerTokenForm /> : null;
}

/** Add, replace (checked with Hetzner first) or remove the token. */
function HetznerTokenForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const saved = useQuery(trpc.credentials.hetzner.get.queryOptions());
  const refresh = () =>
    queryClient.invalidateQueries({ queryKey: trpc.credentials.hetzner.get.queryKey() });
  const save = useMutation(trpc.credentials.hetzner.set.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(
    trpc.credentials.hetzner.remove.mutationOptions({ onSuccess: refresh }),
  );
  const [token, setToken] = useState("");

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate({ token }, { onSuccess: () => setToken("") });
  }

  const [removing, setRemoving] = useState(false);

  return (
    <section className="card" aria-labelledby="hetzner-heading">
      <ConfirmDialog
        open={removing}
        title="Remove your Hetzner token?"
        confirmLabel="Remove token"
        pending={remove.isPending}
        onConfirm={() => remove.mutate(undefined, { onSettled: () => setRemoving(false) })}
        onCancel={() => setRemoving(false)}
      >
        <p>Workspaces on Hetzner need it: none can be created or started until you save another.</p>
      </ConfirmDialog>
      <h2 id="hetzner-heading">Hetzner Cloud token</h2>
      <p className="hint">
        Workspaces on Hetzner run in your own project. Create a Read &amp; Write token in the
        Hetzner Console (Security → API tokens); it is checked with Hetzner, stored encrypted and
        never shown again.
      </p>
      <ErrorAlert error={saved.error ?? save.error ?? remove.error} />
      {saved.data ? (
        <p data-testid="hetzner-token-saved">
          A token ending in <code>{saved.data.hint}</code> is saved (since{" "}
          {saved.data.updatedAt.toLocaleDateString()}).{" "}
          <button type="button" onClick={() => setRemoving(true)} disabled={remove.isPending}>
            Remove
          </button>
        </p>
      ) : null}
      <form onSubmit={submit} className="inline-form">
        <label>
          {saved.data ? "Replace with a new token" : "Hetzner API token"}
          <input
            value={token}
            onChange={(event) => setToken(event.target.value)}
            name="token"
            type="password"
            autoComplete="off"
            required
          />
        </label>
        <button type="submit" disabled={save.isPending}>
          {save.isPending ? "Checking with Hetzner…" : "Save token"}
        </button>
      </form>
    </section>
  );
}
