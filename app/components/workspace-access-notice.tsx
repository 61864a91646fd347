import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../lib/trpc.ts";

/**
 * Says so when this install lets only admins create workspaces (one-machine mode without
 * root, SPEC §10). The rule and its words come from the server (`system.info`).
 */
export function WorkspaceAccessNotice({ role }: { role: "admin" | "member" }) {
  const trpc = useTRPC();
  const info = useQuery(trpc.system.info.queryOptions());
  const access = info.data?.workspaces;
  if (!access?.notice) return null;
  return (
    <p role="status" className={role === "admin" ? "card" : "card bad"}>
      {access.notice}
      {role === "admin" ? " You are an admin, so you can." : " You are not an admin."}
    </p>
  );
}

/** True when the signed-in user may not create workspaces on this install. */
export function useWorkspaceCreationBlocked(role: "admin" | "member"): boolean {
  const trpc = useTRPC();
  const info = useQuery(trpc.system.info.queryOptions());
  return info.data?.workspaces.allowed === "admins" && role !== "admin";
}
