import { z } from "zod";
import { listCatalogue } from "../../services/catalogue.ts";
import { summarizeMonthCost } from "../../services/month-costs.ts";
import { listWorkspaceCosts } from "../../services/workspace-costs.ts";
import { protectedProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

// What the user can order and what their workspaces cost (issue #13). The output schemas
// are the contract the create form and the SDK read.

const deprecationSchema = z
  .object({ announced: z.string(), unavailableAfter: z.string() })
  .nullable();

export const catalogueSchema = z.object({
  serverTypes: z.array(
    z.object({
      name: z.string(),
      description: z.string(),
      architecture: z.enum(["x86", "arm"]),
      cpuType: z.enum(["shared", "dedicated"]),
      cores: z.number(),
      memoryGb: z.number(),
      diskGb: z.number(),
      deprecation: deprecationSchema,
    }),
  ),
  locations: z.array(z.object({ name: z.string(), city: z.string(), country: z.string() })),
  /** Only what the provider takes orders for now, each with its price there. */
  offers: z.array(
    z.object({
      serverType: z.string(),
      location: z.string(),
      price: z.object({ hourly: z.number(), monthly: z.number() }).nullable(),
    }),
  ),
  currency: z.string().nullable(),
  volumePricePerGbMonth: z.number().nullable(),
});

const workspaceCostSchema = z.object({
  workspaceId: z.string(),
  currency: z.string().nullable(),
  total: z.number(),
  perHourNow: z.number(),
  serverHours: z.number(),
  complete: z.boolean(),
});

export const catalogueRouter = router({
  list: protectedProcedure.output(catalogueSchema).query(({ ctx }) =>
    listCatalogue(ctx.db, ctx.keyring, ownerOf(ctx), {
      provider: ctx.env.WORKSPACE_PROVIDER,
      hetznerApiUrl: ctx.env.HETZNER_API_URL,
      observe: ctx.observeOutboundRequest,
    }),
  ),
  /** Per workspace with a recorded server or volume: the cost so far and per hour now. */
  costs: protectedProcedure
    .output(z.array(workspaceCostSchema))
    .query(({ ctx }) => listWorkspaceCosts(ctx.db, ownerOf(ctx))),
  /** What all of the user's workspaces cost since the first of this month (UTC). */
  monthCost: protectedProcedure
    .output(
      z.object({
        since: z.date(),
        currency: z.string().nullable(),
        total: z.number(),
        complete: z.boolean(),
      }),
    )
    .query(({ ctx }) => summarizeMonthCost(ctx.db, ownerOf(ctx))),
});
