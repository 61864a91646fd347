import { readBearerToken, type FakeRequest, type Reply } from "./fake-http.ts";
import { hetznerError, type FakeHetznerState } from "./hetzner-model.ts";

// What happens to a Hetzner project outside our control: a token with the Console's "Read"
// permission, and servers someone switches off or deletes in the Console.

/** Hetzner's answer to a token it does not accept for this request; undefined when it does. */
export function refuseToken(
  request: FakeRequest,
  tokens: { token: string; readOnlyToken: string },
): Reply | undefined {
  const presented = readBearerToken(request.headers);
  // The Console: "If you select Read, the token will only be allowed to perform GET requests."
  if (presented === tokens.readOnlyToken)
    return request.method === "GET"
      ? undefined
      : hetznerError(403, "token_readonly", "The token is only allowed to perform GET requests");
  if (presented !== tokens.token)
    return hetznerError(401, "unauthorized", "unable to authenticate");
  return undefined;
}

export function behindOurBack(state: FakeHetznerState) {
  const serverOf = (id: number | string) => {
    const found = state.servers.get(Number(id));
    if (!found) throw new Error(`The fake Hetzner has no server ${id}`);
    return found;
  };
  return {
    switchOffServer: (id: number | string) => void (serverOf(id).status = "off"),
    deleteServerBehindOurBack: (id: number | string) => {
      const gone = serverOf(id);
      state.servers.delete(gone.id);
      for (const volume of state.volumes.values())
        if (volume.serverId === gone.id) volume.serverId = null;
    },
  };
}
