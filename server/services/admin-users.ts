import { and, asc, count, eq, isNull } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { users, workspaces } from "../../db/schema.ts";

/** Every user of the install for the admin dashboard, oldest first, with their live workspaces. */
export async function listAdminUsers(db: Database) {
  return db
    .select({
      id: users.id,
      login: users.login,
      role: users.role,
      createdAt: users.createdAt,
      workspaceCount: count(workspaces.id),
    })
    .from(users)
    .leftJoin(workspaces, and(eq(workspaces.userId, users.id), isNull(workspaces.deletedAt)))
    .groupBy(users.id)
    .orderBy(asc(users.createdAt), asc(users.login));
}
