import {
  createFaultSwitches,
  startFakeServer,
  type FakeRequest,
  type FaultSwitches,
  type Reply,
} from "./fake-http.ts";
import { createServerBody, createVolumeBody, refuseBody } from "./hetzner-bodies.ts";
import { firewallRoutes, firewallsOnServer } from "./hetzner-firewalls.ts";
import {
  locations,
  refusalOf,
  renderPricing,
  renderServerType,
  serverTypes,
} from "./hetzner-catalogue.ts";
import { images } from "./hetzner-images.ts";
import { behindOurBack, refuseToken } from "./hetzner-faults.ts";
import { placementGroupRoutes, type FakePlacementGroup } from "./hetzner-placement-groups.ts";
import {
  createActionBook,
  filterAndPage,
  hetznerError,
  invalidInput,
  isStringRecord,
  notFound,
  pageOf,
  renderAction,
  renderServer,
  renderVolume,
  type ActionError,
  type FakeHetznerAction,
  type FakeHetznerServer,
  type FakeHetznerState,
  type Route,
  type RouteContext,
} from "./hetzner-model.ts";

// A fake Hetzner Cloud API (https://docs.hetzner.cloud) on loopback: servers, volumes,
// firewalls (hetzner-firewalls.ts), placement groups (the token check) and actions that finish
// after a few polls, plus fault switches (fake-http.ts): Hetzner's 429, any error answer, 5xx,
// slow, lost and hanging requests; a Read-only token; servers switched off or deleted behind
// our back. Tests drive server/providers/hetzner.ts against it.

export type {
  FakeHetznerAction,
  FakeHetznerFirewall,
  FakeHetznerServer,
  FakeHetznerState,
  FakeHetznerVolume,
} from "./hetzner-model.ts";

export type FakeHetznerOptions = {
  /** The API token the fake accepts; a random one unless given. */
  token?: string;
  /** How many polls of `GET /actions/{id}` answer `running` before the action ends; 1. */
  actionPolls?: number;
  /**
   * A second token with the Console's "Read" permission: GETs work, every other method gets
   * Hetzner's 403 `token_readonly`. A random one unless given.
   */
  readOnlyToken?: string;
};

export type FakeHetzner = {
  /** Base URL including `/v1`, e.g. http://127.0.0.1:41234/v1. */
  url: string;
  token: string;
  /** Accepted for GET only, as a Read token is (see FakeHetznerOptions). */
  readOnlyToken: string;
  state: FakeHetznerState;
  faults: FaultSwitches;
  /** Placement groups made and not yet deleted (the token check makes one and deletes it). */
  placementGroups: Map<number, FakePlacementGroup>;
  /** Powers a server off behind our back, as someone in the Hetzner Console might. */
  switchOffServer: (id: number | string) => void;
  /** Deletes a server behind our back (Console, another tool); its volumes are detached. */
  deleteServerBehindOurBack: (id: number | string) => void;
  /** Makes the next action with this command (e.g. `create_server`) end in `error`. */
  failNextAction: (command: string, error?: ActionError) => void;
  /** Ends every running action now, as if it had been polled to the end. */
  settleActions: () => void;
  close: () => Promise<void>;
};

const userDataLimitBytes = 32 * 1024;
const hostnamePattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export async function startFakeHetzner(options: FakeHetznerOptions = {}): Promise<FakeHetzner> {
  const token = options.token ?? `fake-hcloud-${crypto.randomUUID()}`;
  const readOnlyToken = options.readOnlyToken ?? `fake-hcloud-read-${crypto.randomUUID()}`;
  const state: FakeHetznerState = {
    servers: new Map(),
    volumes: new Map(),
    firewalls: new Map(),
    actions: new Map(),
    requests: [],
  };
  let lastId = 1000;
  const nextId = () => ++lastId;
  const now = () => new Date().toISOString();
  const actions = createActionBook({ state, nextId, now, polls: options.actionPolls ?? 1 });
  const context: RouteContext = {
    state,
    nextId,
    now,
    startAction: actions.start,
    endAction: actions.end,
  };
  const faults = createFaultSwitches();
  const placementGroups = new Map<number, FakePlacementGroup>();
  const extraRoutes = placementGroupRoutes(placementGroups);
  const server = await startFakeServer({
    faults,
    requests: state.requests,
    errorReply: hetznerError,
    handle: (request) =>
      refuseToken(request, { token, readOnlyToken }) ?? route(context, request, extraRoutes),
  });
  return {
    url: `${server.origin}/v1`,
    token,
    readOnlyToken,
    state,
    placementGroups,
    ...behindOurBack(state),
    faults: { add: faults.add, clear: faults.clear, pending: faults.pending },
    failNextAction: actions.failNext,
    settleActions: actions.settle,
    close: server.close,
  };
}

const routes: Route[] = [
  ["GET", /^\/v1\/servers$/, listServers],
  ["POST", /^\/v1\/servers$/, createServer],
  ["GET", /^\/v1\/servers\/(\d+)$/, getServer],
  ["DELETE", /^\/v1\/servers\/(\d+)$/, deleteServer],
  ["GET", /^\/v1\/servers\/(\d+)\/actions$/, (c, r, id) => listActionsOf(c, r, id, "server")],
  ["GET", /^\/v1\/volumes$/, listVolumes],
  ["POST", /^\/v1\/volumes$/, createVolume],
  ["GET", /^\/v1\/volumes\/(\d+)$/, getVolume],
  ["DELETE", /^\/v1\/volumes\/(\d+)$/, deleteVolume],
  ["POST", /^\/v1\/volumes\/(\d+)\/actions\/detach$/, detachVolume],
  ["GET", /^\/v1\/volumes\/(\d+)\/actions$/, (c, r, id) => listActionsOf(c, r, id, "volume")],
  ["GET", /^\/v1\/actions\/(\d+)$/, pollAction],
  ...firewallRoutes,
  ["GET", /^\/v1\/firewalls\/(\d+)\/actions$/, (c, r, id) => listActionsOf(c, r, id, "firewall")],
  ["GET", /^\/v1\/server_types$/, (_c, r) => pageOf("server_types", serverTypes, r.query)],
  ["GET", /^\/v1\/locations$/, (_c, r) => pageOf("locations", locations, r.query)],
  ["GET", /^\/v1\/pricing$/, () => ({ status: 200, body: renderPricing() })],
];

function route(context: RouteContext, request: FakeRequest, extra: Route[]): Reply {
  for (const [method, pattern, handler] of [...routes, ...extra]) {
    const match = pattern.exec(request.path);
    if (match && method === request.method) return handler(context, request, match[1] ?? "");
  }
  return hetznerError(404, "not_found", `no route for ${request.method} ${request.path}`);
}

function listServers(context: RouteContext, request: FakeRequest): Reply {
  const { state } = context;
  return filterAndPage("servers", state.servers.values(), request, (server) =>
    renderServer(server, firewallsOnServer(state, server)),
  );
}

function getServer(context: RouteContext, _request: FakeRequest, id: string): Reply {
  const server = context.state.servers.get(Number(id));
  if (!server) return notFound("server", id);
  // Hetzner's actions run whether or not anyone polls them: a client that watches the server
  // instead of its action (a re-taken job whose first worker died) sees it finish too.
  for (const action of context.state.actions.values())
    if (
      action.resources.some((resource) => resource.type === "server" && resource.id === server.id)
    )
      advanceAction(context, action);
  return {
    status: 200,
    body: { server: renderServer(server, firewallsOnServer(context.state, server)) },
  };
}

type Parsed<T> = { ok: true; value: T } | { ok: false; reply: Reply };

function readServerInput(context: RouteContext, body: unknown): Parsed<FakeHetznerServer> {
  const input = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const { name, server_type, location, image, user_data = "", labels = {} } = input;
  const fail = (reply: Reply) => ({ ok: false as const, reply });
  if (typeof name !== "string" || !hostnamePattern.test(name))
    return fail(invalidInput("name", "name must be a valid hostname"));
  if (!serverTypes.some((type) => type.name === server_type))
    return fail(invalidInput("server_type", "unknown server type"));
  if (!locations.some((candidate) => candidate.name === location))
    return fail(invalidInput("location", "unknown location"));
  const refusal = refusalOf(renderServerType(String(server_type)), String(location));
  if (refusal) return fail(invalidInput("location", refusal));
  if (typeof image !== "string" || !images.includes(image))
    return fail(invalidInput("image", "unknown image"));
  if (typeof user_data !== "string") return fail(invalidInput("user_data", "must be a string"));
  if (Buffer.byteLength(user_data) > userDataLimitBytes)
    return fail(invalidInput("user_data", `user_data must not exceed ${userDataLimitBytes} bytes`));
  if (!isStringRecord(labels))
    return fail(invalidInput("labels", "labels must map strings to strings"));
  const volumes = readAttachableVolumes(context, input.volumes ?? [], String(location));
  if (!volumes.ok) return volumes;
  if ([...context.state.servers.values()].some((server) => server.name === name))
    return fail(
      hetznerError(409, "uniqueness_error", "server name is already used", {
        fields: [{ name: "name" }],
      }),
    );
  const id = context.nextId();
  const server: FakeHetznerServer = {
    id,
    name,
    status: "initializing",
    serverType: String(server_type),
    location: String(location),
    image,
    userData: user_data,
    labels,
    volumeIds: volumes.value,
    automount: input.automount === true,
    // TEST-NET-3 (RFC 5737): documentation addresses that route nowhere.
    ipv4: `203.0.113.${(id % 254) + 1}`,
    created: context.now(),
  };
  return { ok: true, value: server };
}

function readAttachableVolumes(
  context: RouteContext,
  volumes: unknown,
  location: string,
): Parsed<number[]> {
  const fail = (message: string) => ({
    ok: false as const,
    reply: invalidInput("volumes", message),
  });
  if (!Array.isArray(volumes) || !volumes.every((volume) => typeof volume === "number"))
    return fail("volumes must be a list of volume IDs");
  for (const volumeId of volumes as number[]) {
    const volume = context.state.volumes.get(volumeId);
    if (!volume) return fail(`volume ${volumeId} not found`);
    if (volume.serverId !== null) return fail(`volume ${volumeId} is already attached`);
    if (volume.location !== location) return fail(`volume ${volumeId} is in another location`);
  }
  return { ok: true, value: volumes as number[] };
}

function createServer(context: RouteContext, request: FakeRequest): Reply {
  const refused = refuseBody(createServerBody, request.body);
  if (refused) return refused;
  const parsed = readServerInput(context, request.body);
  if (!parsed.ok) return parsed.reply;
  const created = parsed.value;
  context.state.servers.set(created.id, created);
  for (const volumeId of created.volumeIds) {
    const volume = context.state.volumes.get(volumeId);
    if (volume) volume.serverId = created.id;
  }
  const action = context.startAction("create_server", [{ id: created.id, type: "server" }], {
    onSuccess: () => (created.status = "running"),
    onError: () => (created.status = "off"),
  });
  // Like Hetzner, attaching the volumes shows up as follow-up actions.
  const nextActions = created.volumeIds.map((volumeId) =>
    context.startAction("attach_volume", [
      { id: created.id, type: "server" },
      { id: volumeId, type: "volume" },
    ]),
  );
  return {
    status: 201,
    body: {
      server: renderServer(created, firewallsOnServer(context.state, created)),
      action: renderAction(action),
      next_actions: nextActions.map(renderAction),
      root_password: null,
    },
  };
}

function deleteServer(context: RouteContext, _request: FakeRequest, id: string): Reply {
  const server = context.state.servers.get(Number(id));
  if (!server) return notFound("server", id);
  const running = [...context.state.actions.values()].find(
    (action) =>
      action.command === "delete_server" &&
      action.status === "running" &&
      action.resources.some((resource) => resource.id === server.id),
  );
  const action =
    running ??
    context.startAction("delete_server", [{ id: server.id, type: "server" }], {
      onSuccess: () => {
        context.state.servers.delete(server.id);
        for (const volume of context.state.volumes.values())
          if (volume.serverId === server.id) volume.serverId = null;
      },
    });
  server.status = "deleting";
  return { status: 200, body: { action: renderAction(action) } };
}

function listVolumes(context: RouteContext, request: FakeRequest): Reply {
  return filterAndPage("volumes", context.state.volumes.values(), request, renderVolume);
}

function getVolume(context: RouteContext, _request: FakeRequest, id: string): Reply {
  const volume = context.state.volumes.get(Number(id));
  if (!volume) return notFound("volume", id);
  return { status: 200, body: { volume: renderVolume(volume) } };
}

function createVolume(context: RouteContext, request: FakeRequest): Reply {
  const refused = refuseBody(createVolumeBody, request.body);
  if (refused) return refused;
  const input = (request.body ?? {}) as Record<string, unknown>;
  const { name, size, location, labels = {}, format = null } = input;
  if (typeof name !== "string" || !/^[a-z0-9]([\w.-]{0,62}[a-z0-9])?$/i.test(name))
    return invalidInput("name", "invalid volume name");
  if (typeof size !== "number" || size < 10 || size > 10240)
    return invalidInput("size", "size must be between 10 and 10240 GB");
  if (!locations.some((candidate) => candidate.name === location))
    return invalidInput("location", "unknown location");
  if (!isStringRecord(labels)) return invalidInput("labels", "labels must map strings to strings");
  if (format !== null && format !== "ext4" && format !== "xfs")
    return invalidInput("format", "format must be ext4 or xfs");
  if ([...context.state.volumes.values()].some((volume) => volume.name === name))
    return hetznerError(409, "uniqueness_error", "volume name is already used");
  const volume = {
    id: context.nextId(),
    name,
    sizeGb: size,
    location: String(location),
    labels,
    serverId: null,
    status: "creating" as const,
    format,
    created: context.now(),
  };
  context.state.volumes.set(volume.id, volume);
  const action = context.startAction("create_volume", [{ id: volume.id, type: "volume" }], {
    onSuccess: () => Object.assign(volume, { status: "available" }),
  });
  return {
    status: 201,
    body: { volume: renderVolume(volume), action: renderAction(action), next_actions: [] },
  };
}

function deleteVolume(context: RouteContext, _request: FakeRequest, id: string): Reply {
  const volume = context.state.volumes.get(Number(id));
  if (!volume) return notFound("volume", id);
  if (volume.serverId !== null)
    return hetznerError(423, "locked", `volume with ID '${id}' is still attached to a server`);
  context.state.volumes.delete(volume.id);
  return { status: 204 };
}

function detachVolume(context: RouteContext, _request: FakeRequest, id: string): Reply {
  const volume = context.state.volumes.get(Number(id));
  if (!volume) return notFound("volume", id);
  if (volume.serverId === null) return invalidInput("server", "volume is not attached");
  const action = context.startAction(
    "detach_volume",
    [
      { id: volume.serverId, type: "server" },
      { id: volume.id, type: "volume" },
    ],
    { onSuccess: () => (volume.serverId = null) },
  );
  return { status: 201, body: { action: renderAction(action) } };
}

function listActionsOf(
  context: RouteContext,
  request: FakeRequest,
  id: string,
  type: "server" | "volume" | "firewall",
): Reply {
  const statuses = request.query.getAll("status");
  const actions = [...context.state.actions.values()].filter(
    (action) =>
      action.resources.some((resource) => resource.type === type && resource.id === Number(id)) &&
      (statuses.length === 0 || statuses.includes(action.status)),
  );
  return pageOf("actions", actions.map(renderAction), request.query);
}

/** One look at a running action: it answers `running` for its polls, then ends. */
function advanceAction(context: RouteContext, action: FakeHetznerAction): void {
  if (action.status !== "running") return;
  if (action.pollsLeft > 0) action.pollsLeft -= 1;
  else context.endAction(action);
}

function pollAction(context: RouteContext, _request: FakeRequest, id: string): Reply {
  const action = context.state.actions.get(Number(id));
  if (!action) return notFound("action", id);
  advanceAction(context, action);
  return { status: 200, body: { action: renderAction(action) } };
}
