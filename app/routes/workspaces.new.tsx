import type { MetaFunction } from "@remix-run/node";
import { useNavigate } from "@remix-run/react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ErrorAlert } from "../components/error-alert.tsx";
import { ServerChoice } from "../components/server-choice.tsx";
import { SignedInPage } from "../components/signed-in-page.tsx";
import {
  WorkspaceAccessNotice,
  useWorkspaceCreationBlocked,
} from "../components/workspace-access-notice.tsx";
import { useTRPC } from "../lib/trpc.ts";

export const meta: MetaFunction = () => [{ title: "New workspace · Cloud AI Workspaces" }];

// The same rules the API enforces, checked as people type so they see them at once.
// eslint-disable-next-line security/detect-unsafe-regex -- bounded ({0,38}): linear, at most 40 characters
const nameRule = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const nameHint =
  "1–40 lowercase letters, digits and dashes, starting and ending with a letter or digit";

export default function NewWorkspace() {
  return (
    <SignedInPage what="create a workspace">
      {(user) => (
        <>
          <h1>New workspace</h1>
          <WorkspaceAccessNotice role={user.role} />
          <NewWorkspaceForm role={user.role} />
        </>
      )}
    </SignedInPage>
  );
}

function NewWorkspaceForm({ role }: { role: "admin" | "member" }) {
  const trpc = useTRPC();
  const blocked = useWorkspaceCreationBlocked(role);
  const navigate = useNavigate();
  const repos = useQuery(trpc.github.repos.queryOptions());
  const create = useMutation(
    trpc.workspaces.create.mutationOptions({
      onSuccess: (workspace) => navigate(`/workspaces/${workspace.id}`),
    }),
  );
  const [form, setForm] = useState({
    name: "",
    repository: "",
    branch: "",
    serverType: "",
    location: "",
    idleTimeoutMinutes: 30,
    maxWorkingHours: 8,
  });
  const [catalogueReady, setCatalogueReady] = useState(false);
  // null: all of the user's secrets, now and later; a list: only these.
  const [secretNames, setSecretNames] = useState<string[] | null>(null);
  const set = (field: keyof typeof form) => (value: string | number) =>
    setForm((current) => ({ ...current, [field]: value }));
  const nameProblem = form.name && !nameRule.test(form.name) ? nameHint : null;
  const idleProblem =
    form.idleTimeoutMinutes < 5 || form.idleTimeoutMinutes > 240
      ? "between 5 and 240 minutes"
      : null;
  const workingProblem =
    !Number.isInteger(form.maxWorkingHours) || form.maxWorkingHours < 1 || form.maxWorkingHours > 72
      ? "whole hours between 1 and 72"
      : null;

  function pickRepository(fullName: string) {
    const repository = repos.data?.find((candidate) => candidate.fullName === fullName);
    setForm((current) => ({
      ...current,
      repository: fullName,
      branch: repository?.defaultBranch ?? current.branch,
      name:
        current.name || (fullName.split("/")[1] ?? "").toLowerCase().replace(/[^a-z0-9-]/g, "-"),
    }));
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!nameProblem && !idleProblem && !workingProblem) create.mutate({ ...form, secretNames });
  }

  return (
    <form onSubmit={submit} className="card stacked-form" noValidate>
      <label>
        Repository
        <select
          name="repository"
          value={form.repository}
          onChange={(event) => pickRepository(event.target.value)}
          required
          aria-busy={repos.isPending}
        >
          <option value="">
            {repos.isPending ? "Loading your repositories…" : "Pick a repository"}
          </option>
          {repos.data?.map((repository) => (
            <option key={repository.fullName} value={repository.fullName}>
              {repository.fullName}
            </option>
          ))}
        </select>
      </label>
      <ErrorAlert error={repos.error} />
      <Field label="Branch" value={form.branch} onChange={set("branch")} name="branch" />
      <Field
        label="Name"
        value={form.name}
        onChange={set("name")}
        name="name"
        problem={nameProblem}
      />
      <ServerChoice
        value={{ serverType: form.serverType, location: form.location }}
        onChange={(choice) => setForm((current) => ({ ...current, ...choice }))}
        onReady={setCatalogueReady}
      />
      <label>
        Stop after idle (minutes)
        <input
          name="idleTimeoutMinutes"
          type="number"
          min={5}
          max={240}
          value={form.idleTimeoutMinutes}
          onChange={(event) => set("idleTimeoutMinutes")(Number(event.target.value))}
          aria-invalid={idleProblem ? true : undefined}
        />
        {idleProblem ? <span className="bad">Choose {idleProblem}.</span> : null}
      </label>
      <label>
        Longest working time without input (hours)
        <input
          name="maxWorkingHours"
          type="number"
          min={1}
          max={72}
          value={form.maxWorkingHours}
          onChange={(event) => set("maxWorkingHours")(Number(event.target.value))}
          aria-invalid={workingProblem ? true : undefined}
        />
        <span className="hint">
          An AI agent that reports working keeps the workspace running; after this long with no
          terminal input it is stopped.
        </span>
        {workingProblem ? <span className="bad">Choose {workingProblem}.</span> : null}
      </label>
      <SecretsChoice value={secretNames} onChange={setSecretNames} />
      <ErrorAlert error={create.error} />
      <button
        type="submit"
        className="primary"
        disabled={create.isPending || !form.repository || !catalogueReady || blocked}
      >
        {create.isPending ? "Creating…" : "Create workspace"}
      </button>
    </form>
  );
}

function Field(props: {
  label: string;
  name: string;
  value: string;
  onChange: (value: string) => void;
  problem?: string | null;
}) {
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        value={props.value}
        onChange={(event) => props.onChange(event.target.value)}
        aria-invalid={props.problem ? true : undefined}
        required
      />
      {props.problem ? <span className="bad">Use {props.problem}.</span> : null}
    </label>
  );
}

/** "Secrets: all / choose", with a checkbox per secret from secrets.list. */
function SecretsChoice(props: {
  value: string[] | null;
  onChange: (value: string[] | null) => void;
}) {
  const trpc = useTRPC();
  const secrets = useQuery(trpc.secrets.list.queryOptions());
  const chosen = props.value;
  const toggle = (name: string, on: boolean) =>
    props.onChange(
      on ? [...(chosen ?? []), name] : (chosen ?? []).filter((other) => other !== name),
    );
  return (
    <fieldset aria-busy={secrets.isPending}>
      <legend>Secrets</legend>
      <label className="choice">
        <input
          type="radio"
          name="secretsChoice"
          checked={chosen === null}
          onChange={() => props.onChange(null)}
        />
        All my secrets (also ones added later)
      </label>
      <label className="choice">
        <input
          type="radio"
          name="secretsChoice"
          checked={chosen !== null}
          onChange={() => props.onChange([])}
        />
        Choose
      </label>
      {chosen !== null
        ? secrets.data?.map((secret) => (
            <label key={secret.name} className="choice">
              <input
                type="checkbox"
                name="secretNames"
                value={secret.name}
                checked={chosen.includes(secret.name)}
                onChange={(event) => toggle(secret.name, event.target.checked)}
              />
              <code>{secret.name}</code>
            </label>
          ))
        : null}
      {chosen !== null && secrets.data?.length === 0 ? (
        <span className="hint">You have no secrets yet: add them in Settings → Secrets.</span>
      ) : null}
      <ErrorAlert error={secrets.error} />
    </fieldset>
  );
}
