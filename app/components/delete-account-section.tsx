import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";

export function DeleteAccountSection({ login }: { login: string }) {
  const trpc = useTRPC();
  const [confirmLogin, setConfirmLogin] = useState("");
  const remove = useMutation(
    trpc.account.delete.mutationOptions({
      onSuccess: () => window.location.assign("/login"),
    }),
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    remove.mutate({ confirmLogin });
  }

  return (
    <section className="card danger" aria-labelledby="danger-heading">
      <h2 id="danger-heading">Danger zone</h2>
      <p>
        Deleting your account removes your sessions, API tokens and everything else of yours. It
        cannot be undone.
      </p>
      <form onSubmit={submit} className="inline-form">
        <label>
          <span>
            Type <strong>{login}</strong> to confirm
          </span>
          <input
            value={confirmLogin}
            onChange={(event) => setConfirmLogin(event.target.value)}
            name="confirmLogin"
            autoComplete="off"
          />
        </label>
        <button
          type="submit"
          className="danger"
          disabled={confirmLogin !== login || remove.isPending}
        >
          Delete my account
        </button>
      </form>
      <ErrorAlert error={remove.error} />
    </section>
  );
}
