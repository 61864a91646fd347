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
import { fieldErrorsOf } from "../lib/field-errors.ts";

export const meta: MetaFunction = () => [{ title: "New workspace · Cloud AI Workspaces" }];

// The same rules the API enforces, checked as people type so they see them at once.
// eslint-disable-next-line security/detect-unsafe-regex -- bounded ({0,38}): linear, at most 40 characters
const nameRule = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const nameHint =
  "1–40 lowercase letters, digits and dashes, starting and ending with a letter or digit";

// The fields that show the server's errors beside them; any other field's is said under the form.
const placedFields = ["repository", "branch", "name", "idleTimeoutMinutes", "maxWorkingHours"];

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

  // The server's word on a field holds for the value it was sent; once edited, it is gone.
  const serverErrors = fieldErrorsOf(create.error);
  const serverProblem = (field: keyof typeof form) =>
    serverErrors[field] !== undefined && create.variables?.[field] === form[field]
      ? serverErrors[field]
      : null;
  const unplaced = Object.keys(serverErrors).some((field) => !placedFields.includes(field));
  const waitingFor = blocked
    ? "Only admins can create workspaces on this install."
    : !form.repository
      ? "Pick a repository first."
      : !catalogueReady
        ? "Waiting for what you can order…"
        : null;

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
        <FieldError name="repository" message={serverProblem("repository")} />
      </label>
      <ErrorAlert error={repos.error} />
      <Field
        label="Branch"
        value={form.branch}
        onChange={set("branch")}
        name="branch"
        problem={serverProblem("branch")}
      />
      <Field
        label="Name"
        value={form.name}
        onChange={set("name")}
        name="name"
        problem={nameProblem ? `Use ${nameProblem}.` : serverProblem("name")}
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
          aria-invalid={idleProblem || serverProblem("idleTimeoutMinutes") ? true : undefined}
          aria-describedby="idleTimeoutMinutes-error"
        />
        <FieldError
          name="idleTimeoutMinutes"
          message={idleProblem ? `Choose ${idleProblem}.` : serverProblem("idleTimeoutMinutes")}
        />
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
          aria-invalid={workingProblem || serverProblem("maxWorkingHours") ? true : undefined}
          aria-describedby="maxWorkingHours-error"
        />
        <span className="hint">
          An AI agent that reports working keeps the workspace running; after this long with no
          terminal input it is stopped.
        </span>
        <FieldError
          name="maxWorkingHours"
          message={workingProblem ? `Choose ${workingProblem}.` : serverProblem("maxWorkingHours")}
        />
      </label>
      <SecretsChoice value={secretNames} onChange={setSecretNames} />
      {/* Field errors stand beside their fields; only the rest is said here. */}
      <ErrorAlert
        error={
          create.error && (unplaced || !Object.keys(serverErrors).length) ? create.error : null
        }
      />
      <div className="actions">
        <button
          type="submit"
          className="primary"
          disabled={create.isPending || waitingFor !== null}
          aria-describedby="create-waiting-for"
        >
          {create.isPending ? "Creating…" : "Create workspace"}
        </button>
        <span className="hint" id="create-waiting-for" data-testid="create-waiting-for">
          {waitingFor}
        </span>
      </div>
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
        aria-describedby={`${props.name}-error`}
        required
      />
      <FieldError name={props.name} message={props.problem ?? null} />
    </label>
  );
}

/** What is wrong with one field, beside it; the input names it in aria-describedby. */
function FieldError({ name, message }: { name: string; message: string | null }) {
  if (!message) return null;
  return (
    <span className="bad" id={`${name}-error`} data-testid={`${name}-error`}>
      {message}
    </span>
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
