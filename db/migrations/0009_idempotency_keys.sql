ALTER TABLE "workspaces" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "workspaces" ADD COLUMN "idempotency_fingerprint" text;--> statement-breakpoint
CREATE UNIQUE INDEX "workspaces_user_idempotency_key_unique" ON "workspaces" USING btree ("user_id","idempotency_key");