import { getSystemInfo } from "../../services/system.ts";
import { publicProcedure, router } from "../init.ts";

export const systemRouter = router({
  info: publicProcedure.query(({ ctx }) =>
    getSystemInfo({
      db: ctx.db,
      version: ctx.version,
      checkReadiness: ctx.checkReadiness,
      provider: ctx.env.WORKSPACE_PROVIDER,
    }),
  ),
});
