import type { FakeRequest, Reply } from "./fake-http.ts";
import { filterAndPage, invalidInput, isStringRecord, notFound } from "./hetzner-model.ts";
import type { RouteContext } from "./hetzner-model.ts";

// Placement groups, only as far as the token check uses them (server/providers/hetzner.ts):
// it creates one and deletes it at once, since a write is the only way to learn whether a
// token is Read & Write, and placement groups cost nothing. Shapes follow Hetzner's
// description (CreatePlacementGroupRequest, PlacementGroup; DELETE answers 204).

export type FakePlacementGroup = {
  id: number;
  name: string;
  labels: Record<string, string>;
  type: "spread";
  created: string;
};

type Handler = (context: RouteContext, request: FakeRequest, id: string) => Reply;

export function placementGroupRoutes(
  groups: Map<number, FakePlacementGroup>,
): [string, RegExp, Handler][] {
  const render = (group: FakePlacementGroup) => ({ ...group, servers: [] as number[] });
  const create: Handler = (context, request) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const { name, type, labels = {} } = body;
    if (typeof name !== "string" || name.length === 0)
      return invalidInput("name", "Missing data for required field.");
    if (type !== "spread") return invalidInput("type", "Must be one of: spread.");
    if (!isStringRecord(labels))
      return invalidInput("labels", "labels must map strings to strings");
    const group = { id: context.nextId(), name, labels, type, created: context.now() } as const;
    groups.set(group.id, group);
    return { status: 201, body: { placement_group: render(group), action: null } };
  };
  const remove: Handler = (_context, _request, id) => {
    if (!groups.delete(Number(id))) return notFound("placement group", id);
    return { status: 204 };
  };
  const list: Handler = (_context, request) =>
    filterAndPage("placement_groups", groups.values(), request, render);
  return [
    ["GET", /^\/v1\/placement_groups$/, list],
    ["POST", /^\/v1\/placement_groups$/, create],
    ["DELETE", /^\/v1\/placement_groups\/(\d+)$/, remove],
  ];
}
