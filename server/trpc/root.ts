import { router } from "./init.ts";
import { accountRouter } from "./routers/account.ts";
import { adminRouter } from "./routers/admin.ts";
import { auditRouter } from "./routers/audit.ts";
import { authRouter } from "./routers/auth.ts";
import { catalogueRouter } from "./routers/catalogue.ts";
import { credentialsRouter } from "./routers/credentials.ts";
import { githubRouter } from "./routers/github.ts";
import { liveRouter } from "./routers/live.ts";
import { notificationsRouter } from "./routers/notifications.ts";
import { secretsRouter } from "./routers/secrets.ts";
import { sessionsRouter } from "./routers/sessions.ts";
import { systemRouter } from "./routers/system.ts";
import { terminalRouter } from "./routers/terminal.ts";
import { tokensRouter } from "./routers/tokens.ts";
import { workspacesRouter } from "./routers/workspaces.ts";

export const appRouter = router({
  system: systemRouter,
  auth: authRouter,
  tokens: tokensRouter,
  account: accountRouter,
  audit: auditRouter,
  credentials: credentialsRouter,
  workspaces: workspacesRouter,
  catalogue: catalogueRouter,
  github: githubRouter,
  admin: adminRouter,
  terminal: terminalRouter,
  secrets: secretsRouter,
  sessions: sessionsRouter,
  notifications: notificationsRouter,
  live: liveRouter,
});

export type AppRouter = typeof appRouter;
