import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";

/** The newest audit entries of everyone (audit.list shows admins all), and a chain check. */
export function AdminAuditSection() {
  const trpc = useTRPC();
  const entries = useQuery(trpc.audit.list.queryOptions({ limit: 50 }));
  return (
    <section className="card" aria-labelledby="audit-heading" aria-busy={entries.isPending}>
      <h2 id="audit-heading">Audit log</h2>
      <VerifyChain />
      <ErrorAlert error={entries.error} />
      {entries.isPending ? <p className="hint">Loading the audit log…</p> : null}
      {entries.data ? (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Audit entries">
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.data.map((entry) => (
                <tr key={entry.id} data-testid="audit-row">
                  <td>{entry.id}</td>
                  <td>{entry.occurredAt.toLocaleString()}</td>
                  <td>
                    {entry.action}
                    {entry.mine ? <em> (you)</em> : null}
                  </td>
                  <td className="break">
                    {entry.targetType ? `${entry.targetType} ${entry.targetId ?? ""}` : "—"}
                  </td>
                  <td className="break wide">
                    {Object.entries(entry.details)
                      .map(([key, value]) => `${key}=${String(value)}`)
                      .join(", ") || "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

/** Runs audit.verify on demand: it walks the whole chain, so not on every page view. */
function VerifyChain() {
  const trpc = useTRPC();
  const verify = useQuery({ ...trpc.audit.verify.queryOptions(), enabled: false, retry: false });
  const result = verify.data;
  return (
    <div className="verify-chain">
      <button type="button" onClick={() => verify.refetch()} disabled={verify.isFetching}>
        {verify.isFetching ? "Verifying…" : "Verify chain"}
      </button>
      <ErrorAlert error={verify.error} />
      <p
        role="status"
        data-testid="audit-verify"
        className={result ? (result.valid ? "ok" : "bad") : undefined}
      >
        {!result || verify.isFetching
          ? null
          : result.valid
            ? `The chain is intact: ${result.checked} entries checked.`
            : `The chain is broken at entry #${result.brokenAtId}: ${result.problem}. The ${result.checked} entries before it are intact.`}
      </p>
    </div>
  );
}
