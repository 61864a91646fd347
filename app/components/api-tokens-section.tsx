import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { useTRPC } from "../lib/trpc.ts";
import { ConfirmDialog } from "./confirm-dialog.tsx";
import { CopyButton } from "./copy-button.tsx";
import { ErrorAlert } from "./error-alert.tsx";

export function ApiTokensSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.tokens.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.tokens.list.queryKey() });
  const create = useMutation(trpc.tokens.create.mutationOptions({ onSuccess: refresh }));
  const [revoking, setRevoking] = useState<{ id: string; name: string } | null>(null);
  const revoke = useMutation(
    trpc.tokens.revoke.mutationOptions({
      onSuccess: async () => {
        setRevoking(null);
        await refresh();
      },
    }),
  );
  const [name, setName] = useState("");
  const newToken = useRef<HTMLElement>(null);

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate({ name });
  }

  return (
    <section className="card" aria-labelledby="tokens-heading">
      <h2 id="tokens-heading">API tokens</h2>
      <p className="hint">
        For the SDK, scripts and AI agents: send one as{" "}
        <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <form onSubmit={submit} className="inline-form">
        <label>
          Token name
          <input
            value={name}
            onChange={(event) => setName(event.target.value)}
            name="name"
            required
            maxLength={100}
          />
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create token
        </button>
      </form>
      <ErrorAlert error={create.error} />
      {create.data ? (
        <div className="new-token">
          <p role="status">Copy your new token now; it will not be shown again:</p>
          <p className="copy-value">
            <code data-testid="new-token" ref={newToken}>
              {create.data.token}
            </code>
            <CopyButton value={create.data.token} label="Copy the token" selectTarget={newToken} />
          </p>
        </div>
      ) : null}
      <ErrorAlert error={tokens.error} />
      <ul className="row-list" aria-busy={tokens.isPending}>
        {tokens.data?.map((token) => (
          <li key={token.id} data-testid="token-row">
            <span>
              <strong>{token.name}</strong> <code>{token.prefix}…</code>{" "}
              {token.revokedAt ? (
                <em>revoked</em>
              ) : token.lastUsedAt ? (
                <span>last used {token.lastUsedAt.toLocaleString()}</span>
              ) : (
                <span>never used</span>
              )}
            </span>
            {token.revokedAt ? null : (
              <button
                type="button"
                className="danger"
                onClick={() => setRevoking({ id: token.id, name: token.name })}
                aria-label={`Revoke ${token.name}`}
              >
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke ${revoking?.name ?? "the token"}?`}
        confirmLabel="Revoke"
        pending={revoke.isPending}
        onConfirm={() => revoking && revoke.mutate({ id: revoking.id })}
        onCancel={() => {
          revoke.reset();
          setRevoking(null);
        }}
      >
        <p>
          Scripts and agents using it are refused from now on (HTTP 401). A revoked token cannot be
          restored: create a new one if you need it again.
        </p>
        <ErrorAlert error={revoke.error} />
      </ConfirmDialog>
    </section>
  );
}
