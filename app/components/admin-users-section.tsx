import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";

export function AdminUsersSection() {
  const trpc = useTRPC();
  const users = useQuery(trpc.admin.users.list.queryOptions());
  return (
    <section className="card" aria-labelledby="users-heading" aria-busy={users.isPending}>
      <h2 id="users-heading">Users</h2>
      <ErrorAlert error={users.error} />
      {users.isPending ? <p className="hint">Loading users…</p> : null}
      {users.data ? (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Users">
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">Login</th>
                <th scope="col">Role</th>
                <th scope="col">Joined</th>
                <th scope="col">Workspaces</th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((user) => (
                <tr key={user.id} data-testid="user-row">
                  <td>{user.login}</td>
                  <td>{user.role}</td>
                  <td>{user.createdAt.toLocaleDateString()}</td>
                  <td>{user.workspaceCount}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
