import { readEngineStats } from "../../services/engine-stats.ts";
import { adminProcedure, router } from "../init.ts";

// Admin-only procedures (SPEC §11): the job dashboard, users and the audit log.
export const adminRouter = router({
  stats: adminProcedure.query(({ ctx }) => readEngineStats(ctx.db)),
});
