/** A workspace's state as a badge; `data-state` lets tests and styles key on it. */
export function WorkspaceState({ state }: { state: string }) {
  const busy = !["running", "stopped", "error", "deleted"].includes(state);
  return (
    <span className={`state state-${state}`} data-state={state} aria-busy={busy}>
      {state}
    </span>
  );
}

/** While a workspace is between states, pages ask again every two seconds. */
export const pollWhileBusy = (state: string | undefined) =>
  state && ["running", "stopped", "error", "deleted"].includes(state) ? false : 2_000;
