import { z } from "zod";
import { listAuditEntries, verifyAuditChain } from "../../services/audit.ts";
import { adminProcedure, protectedProcedure, router } from "../init.ts";

export const auditRouter = router({
  list: protectedProcedure
    .input(
      z.object({ limit: z.number().int().min(1).max(500).default(100) }).default({ limit: 100 }),
    )
    .query(({ ctx, input }) => listAuditEntries(ctx.db, ctx.user, input.limit)),
  verify: adminProcedure.query(({ ctx }) => verifyAuditChain(ctx.db)),
});
