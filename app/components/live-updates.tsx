import { useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import { isAffectedBy, isWorthAskingAgain } from "../lib/live-updates.ts";
import { useTRPC } from "../lib/trpc.ts";

// The browser end of live updates (ADR 0021): one live.updates stream per page; each change
// refetches the queries it touches, a (re)connection refetches everything shown (changes were
// missed meanwhile), and while the stream or the server's feed is down, pages poll instead.

const LiveContext = createContext(false);

/** True while changes arrive by push; components poll only while it is false. */
export const useLive = () => useContext(LiveContext);

// Changes come in bursts (a transition is a state, a timeline entry and a job): one refetch.
const settleMs = 50;
// After the stream ended for good (the server shut down, or refused), try again this soon.
const reconnectMs = 3_000;

export function LiveUpdates({ children }: { children: ReactNode }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [feedUp, setFeedUp] = useState(false);
  const pending = useRef<{ ids: Set<string>; timer?: ReturnType<typeof setTimeout> }>({
    ids: new Set(),
  });
  const subscription = useSubscription(
    trpc.live.updates.subscriptionOptions(undefined, {
      onData(item) {
        if (item.type === "resync") {
          setFeedUp(true);
          void queryClient.invalidateQueries({ predicate: isWorthAskingAgain });
        } else if (item.type === "down") setFeedUp(false);
        else if (item.type === "change") {
          const batch = pending.current;
          batch.ids.add(item.workspaceId);
          batch.timer ??= setTimeout(() => {
            const ids = new Set(batch.ids);
            batch.ids.clear();
            batch.timer = undefined;
            void queryClient.invalidateQueries({ predicate: (query) => isAffectedBy(query, ids) });
          }, settleMs);
        }
      },
    }),
  );
  const { status, reset } = subscription;
  useEffect(() => {
    if (status !== "idle" && status !== "error") return;
    const retry = setTimeout(reset, reconnectMs);
    return () => clearTimeout(retry);
  }, [status, reset]);
  const live = status === "pending" && feedUp;
  return (
    <LiveContext.Provider value={live}>
      <span hidden data-testid="live-status" data-live={live ? "on" : "off"} />
      {children}
    </LiveContext.Provider>
  );
}
