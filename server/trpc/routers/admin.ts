import { z } from "zod";
import { jobStatuses } from "../../../db/schema.ts";
import {
  cancelAdminJob,
  getAdminJob,
  listAdminJobs,
  readJobThroughput,
  retryAdminJob,
} from "../../services/admin-jobs.ts";
import { listAdminUsers } from "../../services/admin-users.ts";
import { readEngineStats } from "../../services/engine-stats.ts";
import { adminProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

// Admin-only procedures (SPEC §11): the job dashboard and users. The audit log has its own
// router (audit.list shows admins every entry; audit.verify is admin-only).

const jobId = z.object({
  id: z.number().int().positive({ error: "expected a job id from admin.jobs.list" }),
});

const jobFilter = z
  .object({
    status: z.enum(jobStatuses, { error: `expected one of ${jobStatuses.join(", ")}` }).optional(),
    kind: z
      .string()
      .trim()
      .max(100, { error: "a job kind is under 100 characters, e.g. workspace.start" })
      .optional(),
    workspaceId: z.uuid({ error: "expected a workspace id" }).optional(),
    cursor: z
      .number()
      .int()
      .positive({ error: "pass the nextCursor of the previous page" })
      .optional(),
    limit: z
      .number()
      .int()
      .min(1, { error: "must be at least 1" })
      .max(100, { error: "must be at most 100" })
      .default(50),
  })
  .default({ limit: 50 });

const jobsRouter = router({
  list: adminProcedure.input(jobFilter).query(({ ctx, input }) => listAdminJobs(ctx.db, input)),
  get: adminProcedure.input(jobId).query(({ ctx, input }) => getAdminJob(ctx.db, input.id)),
  retry: adminProcedure
    .input(jobId)
    .mutation(({ ctx, input }) => retryAdminJob(ctx.db, ownerOf(ctx), input.id)),
  cancel: adminProcedure
    .input(jobId)
    .mutation(({ ctx, input }) => cancelAdminJob(ctx.db, ownerOf(ctx), input.id)),
  throughput: adminProcedure.query(({ ctx }) => readJobThroughput(ctx.db)),
});

export const adminRouter = router({
  stats: adminProcedure.query(({ ctx }) => readEngineStats(ctx.db)),
  jobs: jobsRouter,
  users: router({
    list: adminProcedure.query(({ ctx }) => listAdminUsers(ctx.db)),
  }),
});
