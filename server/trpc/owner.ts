import type { Owner } from "../services/owner.ts";

/** The owner a protected procedure's service calls act for. */
export const ownerOf = (ctx: { user: { id: string; auditSubject: string } }): Owner => ({
  userId: ctx.user.id,
  auditSubject: ctx.user.auditSubject,
});
