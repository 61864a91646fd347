import { router } from "./init.ts";
import { accountRouter } from "./routers/account.ts";
import { auditRouter } from "./routers/audit.ts";
import { authRouter } from "./routers/auth.ts";
import { systemRouter } from "./routers/system.ts";
import { tokensRouter } from "./routers/tokens.ts";

export const appRouter = router({
  system: systemRouter,
  auth: authRouter,
  tokens: tokensRouter,
  account: accountRouter,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
