import { readPaging, type FakeRequest, type LoggedRequest, type Reply } from "./fake-http.ts";
import { renderImage } from "./hetzner-images.ts";
import { renderLocation, renderServerType, serverTypes } from "./hetzner-catalogue.ts";

// The fake Hetzner's state, its actions, and the JSON shapes of the public API
// (https://docs.hetzner.cloud) that the routes in hetzner.ts answer with.

export type FakeLabels = Record<string, string>;

export type FakeHetznerServer = {
  id: number;
  name: string;
  status: "initializing" | "starting" | "running" | "stopping" | "off" | "deleting";
  serverType: string;
  location: string;
  image: string;
  userData: string;
  labels: FakeLabels;
  volumeIds: number[];
  automount: boolean;
  ipv4: string;
  created: string;
};

export type FakeHetznerVolume = {
  id: number;
  name: string;
  sizeGb: number;
  location: string;
  labels: FakeLabels;
  serverId: number | null;
  status: "creating" | "available";
  format: string | null;
  created: string;
};

/** Where a firewall applies: one server, or every server its label selector matches. */
export type FakeFirewallTarget =
  { type: "server"; serverId: number } | { type: "label_selector"; selector: string };

export type FakeFirewallRule = {
  direction: "in" | "out";
  protocol: "tcp" | "udp" | "icmp" | "esp" | "gre";
  port: string | null;
  source_ips: string[];
  destination_ips: string[];
  description: string | null;
};

export type FakeHetznerFirewall = {
  id: number;
  name: string;
  labels: FakeLabels;
  rules: FakeFirewallRule[];
  appliedTo: FakeFirewallTarget[];
  created: string;
};

export type ActionError = { code: string; message: string };

export type FakeHetznerAction = {
  id: number;
  command: string;
  status: "running" | "success" | "error";
  started: string;
  finished: string | null;
  resources: { id: number; type: "server" | "volume" | "firewall" }[];
  error: ActionError | null;
  /** Polls still answered with `running`. */
  pollsLeft: number;
  /** What the action does to the state when it succeeds (or fails). */
  onSuccess: () => void;
  onError: () => void;
  /** Set when a test asked for this command to fail. */
  failWith: ActionError | null;
};

export type FakeHetznerState = {
  servers: Map<number, FakeHetznerServer>;
  volumes: Map<number, FakeHetznerVolume>;
  firewalls: Map<number, FakeHetznerFirewall>;
  actions: Map<number, FakeHetznerAction>;
  /** Every request in order: method, path (no query), its JSON body, the status answered. */
  requests: LoggedRequest[];
};

type ActionEffects = { onSuccess?: () => void; onError?: () => void };

export type ActionBook = {
  start: (
    command: string,
    resources: FakeHetznerAction["resources"],
    effects?: ActionEffects,
  ) => FakeHetznerAction;
  /** Ends a running action: success (or the injected error) and its effect on the state. */
  end: (action: FakeHetznerAction) => void;
  failNext: (command: string, error?: ActionError) => void;
  settle: () => void;
};

export function createActionBook(options: {
  state: FakeHetznerState;
  nextId: () => number;
  now: () => string;
  polls: number;
}): ActionBook {
  const { state, nextId, now } = options;
  const failures: { command: string; error: ActionError }[] = [];
  const takeFailure = (command: string) => {
    const index = failures.findIndex((failure) => failure.command === command);
    return index >= 0 ? (failures.splice(index, 1)[0]?.error ?? null) : null;
  };
  const end = (action: FakeHetznerAction) => {
    if (action.status !== "running") return;
    action.finished = now();
    action.status = action.failWith ? "error" : "success";
    action.error = action.failWith;
    if (action.failWith) action.onError();
    else action.onSuccess();
  };
  return {
    start: (command, resources, effects = {}) => {
      const action: FakeHetznerAction = {
        id: nextId(),
        command,
        status: "running",
        started: now(),
        finished: null,
        resources,
        error: null,
        pollsLeft: options.polls,
        onSuccess: effects.onSuccess ?? (() => {}),
        onError: effects.onError ?? (() => {}),
        failWith: takeFailure(command),
      };
      state.actions.set(action.id, action);
      return action;
    },
    end,
    failNext: (command, error) =>
      failures.push({
        command,
        error: error ?? { code: "action_failed", message: `${command} failed (injected)` },
      }),
    settle: () => {
      for (const action of state.actions.values()) end(action);
    },
  };
}

export type RouteContext = {
  state: FakeHetznerState;
  nextId: () => number;
  now: () => string;
  startAction: ActionBook["start"];
  endAction: ActionBook["end"];
};

export type Route = [
  string,
  RegExp,
  (context: RouteContext, request: FakeRequest, id: string) => Reply,
];

export function hetznerError(
  status: number,
  code: string,
  message: string,
  // The description: "details: An object providing for details on the error"; `{}` when
  // there are none, as Hetzner answers.
  details: unknown = {},
): Reply {
  return { status, body: { error: { code, message, details } } };
}

export const notFound = (what: string, id: string) =>
  hetznerError(404, "not_found", `${what} with ID '${id}' not found`);

export function invalidInput(field: string, message: string): Reply {
  return hetznerError(422, "invalid_input", `invalid input in field '${field}'`, {
    fields: [{ name: field, messages: [message] }],
  });
}

/** Evaluates a Hetzner label selector: comma-separated `k=v`, `k==v`, `k!=v`, `k`, `!k`. */
export function matchesSelector(labels: FakeLabels, selector: string): boolean {
  return selector
    .split(",")
    .map((term) => term.trim())
    .filter(Boolean)
    .every((term) => {
      const different = /^([^=!\s]+)\s*!=\s*(\S*)$/.exec(term);
      if (different) return labels[different[1] ?? ""] !== different[2];
      const equal = /^([^=!\s]+)\s*==?\s*(\S*)$/.exec(term);
      if (equal) return labels[equal[1] ?? ""] === equal[2];
      if (term.startsWith("!")) return !(term.slice(1) in labels);
      return term in labels;
    });
}

export function isValidSelector(selector: string): boolean {
  return selector
    .split(",")
    .map((term) => term.trim())
    .filter(Boolean)
    .every((term) => /^(!?[\w.\-/]+|[\w.\-/]+\s*(==|!=|=)\s*[\w.-]*)$/.test(term));
}

/** Filters by `name` and `label_selector`, then pages, as every Hetzner list endpoint does. */
export function filterAndPage<T extends { id: number; name: string; labels: FakeLabels }>(
  key: string,
  items: Iterable<T>,
  request: FakeRequest,
  render: (item: T) => unknown,
): Reply {
  const selector = request.query.get("label_selector") ?? "";
  if (!isValidSelector(selector)) return invalidInput("label_selector", "invalid label selector");
  const name = request.query.get("name");
  const found = [...items]
    .filter(
      (item) => (name === null || item.name === name) && matchesSelector(item.labels, selector),
    )
    .sort((a, b) => a.id - b.id);
  return pageOf(key, found.map(render), request.query);
}

/** One page of `items` in Hetzner's `{ [key]: [...], meta: { pagination } }` layout. */
export function pageOf<T>(key: string, items: T[], query: URLSearchParams): Reply {
  const { page, perPage } = readPaging(query, { perPage: 25, maxPerPage: 50 });
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const pagination = {
    page,
    per_page: perPage,
    previous_page: page > 1 ? page - 1 : null,
    next_page: page < lastPage ? page + 1 : null,
    last_page: lastPage,
    total_entries: items.length,
  };
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return { status: 200, body: { [key]: slice, meta: { pagination } } };
}

export function renderAction(action: FakeHetznerAction) {
  return {
    id: action.id,
    command: action.command,
    status: action.status,
    progress: action.status === "running" ? 50 : 100,
    started: action.started,
    finished: action.finished,
    resources: action.resources,
    error: action.error,
  };
}

/** `firewalls`: the ones applied to it, as `public_net.firewalls` lists them. */
export function renderServer(
  server: FakeHetznerServer,
  firewalls: { id: number; status: "applied" | "pending" }[] = [],
) {
  return {
    id: server.id,
    name: server.name,
    status: server.status,
    created: server.created,
    public_net: {
      ipv4: { id: server.id, ip: server.ipv4, blocked: false, dns_ptr: `static.${server.ipv4}` },
      ipv6: null,
      floating_ips: [],
      firewalls,
    },
    private_net: [],
    server_type: renderServerType(server.serverType),
    datacenter: renderDatacenter(server.location),
    image: renderImage(server.image),
    iso: null,
    rescue_enabled: false,
    locked: false,
    backup_window: null,
    protection: { delete: false, rebuild: false },
    labels: server.labels,
    volumes: server.volumeIds,
    load_balancers: [],
    primary_disk_size: renderServerType(server.serverType).disk,
    placement_group: null,
    // Bytes in the current billing period; 20 TB included, nothing used yet.
    included_traffic: 21_990_232_555_520,
    ingoing_traffic: 0,
    outgoing_traffic: 0,
  };
}

function renderDatacenter(location: string) {
  const ids = serverTypes.map((type) => type.id);
  return {
    id: 1,
    name: `${location}-dc14`,
    description: `${location} DC14`,
    location: renderLocation(location),
    server_types: { supported: ids, available: ids, available_for_migration: ids },
  };
}

export function renderVolume(volume: FakeHetznerVolume) {
  return {
    id: volume.id,
    name: volume.name,
    size: volume.sizeGb,
    server: volume.serverId,
    location: renderLocation(volume.location),
    linux_device: `/dev/disk/by-id/scsi-0HC_Volume_${volume.id}`,
    protection: { delete: false },
    labels: volume.labels,
    status: volume.status,
    format: volume.format,
    created: volume.created,
  };
}

export function isStringRecord(value: unknown): value is FakeLabels {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === "string")
  );
}
