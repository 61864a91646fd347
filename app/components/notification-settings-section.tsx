import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { useTRPC } from "../lib/trpc.ts";
import { BrowserNotificationPermission } from "./browser-notifications.tsx";
import { CopyButton } from "./copy-button.tsx";
import { ConfirmDialog } from "./confirm-dialog.tsx";
import { ErrorAlert } from "./error-alert.tsx";

/**
 * SPEC §14: how the user hears that an agent needs input, is done or failed, or that a
 * workspace will stop or stopped: browser notifications, and a webhook signed with a secret
 * shown once.
 */
export function NotificationSettingsSection() {
  return (
    <section className="card" aria-labelledby="notifications-heading">
      <h2 id="notifications-heading">Notifications</h2>
      <p className="hint">
        Told when an AI agent needs input, is done or fails, and when a workspace will stop in 5
        minutes or has stopped.
      </p>
      <BrowserNotificationPermission />
      <WebhookForm />
    </section>
  );
}

function WebhookForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const webhook = useQuery(trpc.notifications.webhook.get.queryOptions());
  const refresh = () =>
    queryClient.invalidateQueries({ queryKey: trpc.notifications.webhook.get.queryKey() });
  const save = useMutation(trpc.notifications.webhook.set.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(
    trpc.notifications.webhook.remove.mutationOptions({
      onSuccess: async () => {
        save.reset();
        await refresh();
      },
    }),
  );
  const [url, setUrl] = useState("");

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate({ url: url.trim() }, { onSuccess: () => setUrl("") });
  }

  const [removing, setRemoving] = useState(false);

  return (
    <>
      <h3>Webhook</h3>
      <p className="hint">
        Each notification is POSTed as JSON. Receivers check{" "}
        <code>x-caw-signature: sha256=HMAC-SHA256(secret, body)</code>
      </p>
      <ErrorAlert error={webhook.error} />
      {webhook.data ? (
        <p data-testid="webhook-url" className="copy-value">
          Sending to <code className="break">{webhook.data.url}</code>
          <CopyButton value={webhook.data.url} label="Copy the webhook URL" />
          <button
            type="button"
            className="danger"
            onClick={() => setRemoving(true)}
            disabled={remove.isPending}
          >
            Remove webhook
          </button>
        </p>
      ) : webhook.isSuccess ? (
        <p className="hint">No webhook yet.</p>
      ) : null}
      <form onSubmit={submit} className="inline-form">
        <label>
          Webhook URL
          <input
            value={url}
            onChange={(event) => setUrl(event.target.value)}
            name="webhookUrl"
            type="url"
            placeholder="https://example.com/hooks/caw"
            autoComplete="off"
            required
            maxLength={2000}
          />
        </label>
        <button type="submit" disabled={save.isPending || !url.trim()}>
          {webhook.data ? "Replace webhook" : "Save webhook"}
        </button>
      </form>
      <ErrorAlert error={save.error ?? remove.error} />
      {save.data ? <NewSecret secret={save.data.secret} /> : null}
      <ConfirmDialog
        open={removing}
        title="Remove the webhook?"
        confirmLabel="Remove webhook"
        pending={remove.isPending}
        onConfirm={() => remove.mutate(undefined, { onSettled: () => setRemoving(false) })}
        onCancel={() => setRemoving(false)}
      >
        <p>Nothing will be sent to it any more.</p>
      </ConfirmDialog>
    </>
  );
}

/** The signing secret, this once: it is stored encrypted and never answered again. */
function NewSecret({ secret }: { secret: string }) {
  const shown = useRef<HTMLElement>(null);
  return (
    <div className="new-token">
      <p role="status">Copy the signing secret now; it will not be shown again:</p>
      <p className="copy-value">
        <code data-testid="webhook-secret" ref={shown}>
          {secret}
        </code>
        <CopyButton value={secret} label="Copy the signing secret" selectTarget={shown} />
      </p>
    </div>
  );
}
