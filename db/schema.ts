import { pgTable, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * One row per install: its id tags metrics and audit entries, and its creation time tells
 * operators how old the install is. Later issues add the domain tables.
 */
export const installation = pgTable("installation", {
  id: uuid("id").primaryKey().defaultRandom(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
