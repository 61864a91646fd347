import { z } from "zod";
import { notificationKinds } from "../../../db/schema.ts";
import { listNotifications } from "../../services/notifications.ts";
import {
  getWebhook,
  removeWebhook,
  setWebhook,
  testWebhook,
  webhookUrlSchema,
} from "../../services/notification-webhooks.ts";
import { protectedProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

// SPEC §14: the user's notifications (the browser shows new ones) and their webhook.

const notificationSchema = z.object({
  id: z.number().int(),
  kind: z.enum(notificationKinds),
  message: z.string(),
  workspaceId: z.string(),
  workspaceName: z.string(),
  sessionName: z.string().nullable(),
  createdAt: z.date(),
});

export const notificationsRouter = router({
  list: protectedProcedure
    .input(z.object({ afterId: z.number().int().min(0).optional() }).default({}))
    .output(z.array(notificationSchema))
    .query(({ ctx, input }) => listNotifications(ctx.db, ownerOf(ctx), input)),
  webhook: router({
    /** The webhook's URL, if one is set; never its secret. */
    get: protectedProcedure
      .output(z.object({ url: z.string(), updatedAt: z.date() }).nullable())
      .query(({ ctx }) => getWebhook(ctx.db, ownerOf(ctx))),
    /** Sets the URL with a new signing secret, answered this once. */
    set: protectedProcedure
      .input(z.object({ url: webhookUrlSchema }))
      .output(z.object({ url: z.string(), secret: z.string() }))
      .mutation(({ ctx, input }) =>
        setWebhook(ctx.db, ctx.keyring, ownerOf(ctx), input.url, {
          allowPrivateAddresses: ctx.env.WORKSPACE_PROVIDER === "local",
        }),
      ),
    remove: protectedProcedure
      .output(z.object({ removed: z.boolean() }))
      .mutation(({ ctx }) => removeWebhook(ctx.db, ownerOf(ctx))),
    /** Sends a signed `test` event now; answers the receiver's status or says what failed. */
    test: protectedProcedure.output(z.object({ status: z.number().int() })).mutation(({ ctx }) =>
      testWebhook(ctx.db, ctx.keyring, ownerOf(ctx), {
        allowPrivateAddresses: ctx.env.WORKSPACE_PROVIDER === "local",
      }),
    ),
  }),
});
