import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";

export function ApiTokensSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.tokens.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.tokens.list.queryKey() });
  const create = useMutation(trpc.tokens.create.mutationOptions({ onSuccess: refresh }));
  const revoke = useMutation(trpc.tokens.revoke.mutationOptions({ onSuccess: refresh }));
  const [name, setName] = useState("");

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
        <button type="submit" disabled={create.isPending}>
          Create token
        </button>
      </form>
      <ErrorAlert error={create.error ?? revoke.error} />
      {create.data ? (
        <p className="new-token" role="status">
          Copy your new token now; it will not be shown again:{" "}
          <code data-testid="new-token">{create.data.token}</code>
        </p>
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
                onClick={() => revoke.mutate({ id: token.id })}
                aria-label={`Revoke ${token.name}`}
              >
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
