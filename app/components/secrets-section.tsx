import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { secretNameSchema, secretValueSchema } from "../../protocol/agent-sessions.ts";
import { useTRPC } from "../lib/trpc.ts";
import { ConfirmDialog } from "./confirm-dialog.tsx";
import { ErrorAlert } from "./error-alert.tsx";

/** The first rule a name or value breaks (the API's own schemas), or null; empty is not yet. */
function problemOf(schema: typeof secretNameSchema | typeof secretValueSchema, input: string) {
  if (!input) return null;
  const parsed = schema.safeParse(input);
  return parsed.success ? null : (parsed.error.issues[0]?.message ?? "not valid");
}

/**
 * SPEC §14: named secrets (API keys for AI agents) that become environment variables in new
 * workspace shells. Write-only: the page lists names and dates, and the value field is cleared
 * once saved, so a value is never on screen again.
 */
export function SecretsSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const secrets = useQuery(trpc.secrets.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.secrets.list.queryKey() });
  const save = useMutation(trpc.secrets.set.mutationOptions({ onSuccess: refresh }));
  const [deleting, setDeleting] = useState<string | null>(null);
  const remove = useMutation(
    trpc.secrets.delete.mutationOptions({
      onSuccess: async () => {
        setDeleting(null);
        await refresh();
      },
    }),
  );
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const nameProblem = problemOf(secretNameSchema, name.trim());
  // Says which rule is broken, never the value itself.
  const valueProblem = problemOf(secretValueSchema, value);
  const replacing = secrets.data?.some((secret) => secret.name === name.trim()) ?? false;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (nameProblem || valueProblem) return;
    save.mutate(
      { name: name.trim(), value },
      {
        onSuccess: () => {
          setName("");
          setValue("");
        },
      },
    );
  }

  return (
    <section className="card" aria-labelledby="secrets-heading">
      <h2 id="secrets-heading">Secrets</h2>
      <p className="hint">
        API keys and tokens for your workspaces (e.g. <code>ANTHROPIC_API_KEY</code>): each is an
        environment variable in every new shell of the workspaces that get it. Stored encrypted and
        never shown again; saving a name again replaces its value.
      </p>
      <form onSubmit={submit} className="inline-form" noValidate>
        <label>
          Secret name
          <input
            value={name}
            onChange={(event) => setName(event.target.value.toUpperCase())}
            name="secretName"
            autoComplete="off"
            spellCheck={false}
            required
            maxLength={64}
            aria-invalid={nameProblem ? true : undefined}
          />
          {nameProblem ? <span className="bad">Name: {nameProblem}.</span> : null}
        </label>
        <label>
          Secret value
          <input
            value={value}
            onChange={(event) => setValue(event.target.value)}
            name="secretValue"
            type="password"
            autoComplete="off"
            required
            aria-invalid={valueProblem ? true : undefined}
          />
          {valueProblem ? <span className="bad">Value: {valueProblem}.</span> : null}
        </label>
        <button
          type="submit"
          disabled={save.isPending || !name || !value || Boolean(nameProblem ?? valueProblem)}
        >
          {replacing ? "Replace secret" : "Save secret"}
        </button>
      </form>
      <ErrorAlert error={save.error ?? secrets.error} />
      {secrets.data?.length === 0 ? <p className="hint">No secrets yet.</p> : null}
      <ul className="row-list" aria-busy={secrets.isPending}>
        {secrets.data?.map((secret) => (
          <li key={secret.name} data-testid="secret-row">
            <span>
              <strong>
                <code>{secret.name}</code>
              </strong>{" "}
              <span>updated {secret.updatedAt.toLocaleString()}</span>
            </span>
            <button
              type="button"
              className="danger"
              onClick={() => setDeleting(secret.name)}
              disabled={remove.isPending}
              aria-label={`Delete ${secret.name}`}
            >
              Delete
            </button>
          </li>
        ))}
      </ul>
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete the secret ${deleting ?? ""}?`}
        confirmLabel="Delete"
        pending={remove.isPending}
        onConfirm={() => deleting && remove.mutate({ name: deleting })}
        onCancel={() => {
          remove.reset();
          setDeleting(null);
        }}
      >
        <p>New shells will no longer have it; shells open now keep it until they end.</p>
        <ErrorAlert error={remove.error} />
      </ConfirmDialog>
    </section>
  );
}
