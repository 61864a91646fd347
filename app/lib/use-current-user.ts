import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "./trpc.ts";

/** The signed-in user, null when signed out, undefined while loading. */
export function useCurrentUser() {
  const trpc = useTRPC();
  const me = useQuery({ ...trpc.auth.me.queryOptions(), retry: false });
  if (me.isPending) return undefined;
  return me.data?.user ?? null;
}
