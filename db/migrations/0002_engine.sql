CREATE TABLE "credentials" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"secret_encrypted" text NOT NULL,
	"hint" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"job_id" bigint NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"workspace_id" uuid,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 5 NOT NULL,
	"run_at" timestamp with time zone DEFAULT now() NOT NULL,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"last_error" text,
	"unique_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "workspace_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" uuid NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"from_state" text,
	"to_state" text NOT NULL,
	"reason" text NOT NULL,
	"actor" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workspaces" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"repository" text NOT NULL,
	"branch" text NOT NULL,
	"provider" text NOT NULL,
	"server_type" text NOT NULL,
	"location" text NOT NULL,
	"idle_timeout_minutes" integer NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"state_reason" text,
	"server_id" text,
	"volume_id" text,
	"ipv4" text,
	"agent_url" text,
	"bootstrap_token_hash" text,
	"bootstrap_expires_at" timestamp with time zone,
	"agent_token_hash" text,
	"agent_version" text,
	"last_heartbeat_at" timestamp with time zone,
	"last_activity_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "credentials" ADD CONSTRAINT "credentials_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "job_events" ADD CONSTRAINT "job_events_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_events" ADD CONSTRAINT "workspace_events_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspaces" ADD CONSTRAINT "workspaces_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "credentials_user_provider_unique" ON "credentials" USING btree ("user_id","provider");--> statement-breakpoint
CREATE INDEX "job_events_job_id_index" ON "job_events" USING btree ("job_id","id");--> statement-breakpoint
CREATE INDEX "jobs_ready_index" ON "jobs" USING btree ("run_at","id") WHERE "jobs"."status" = 'queued';--> statement-breakpoint
CREATE INDEX "jobs_lease_index" ON "jobs" USING btree ("locked_until") WHERE "jobs"."status" = 'running';--> statement-breakpoint
CREATE INDEX "jobs_workspace_id_index" ON "jobs" USING btree ("workspace_id");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_one_running_per_workspace" ON "jobs" USING btree ("workspace_id") WHERE "jobs"."status" = 'running';--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_unique_key_waiting" ON "jobs" USING btree ("unique_key") WHERE "jobs"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "jobs_status_index" ON "jobs" USING btree ("status","kind");--> statement-breakpoint
CREATE INDEX "workspace_events_workspace_id_index" ON "workspace_events" USING btree ("workspace_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "workspaces_user_name_unique" ON "workspaces" USING btree ("user_id","name") WHERE "workspaces"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "workspaces_user_id_index" ON "workspaces" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "workspaces_bootstrap_token_hash_unique" ON "workspaces" USING btree ("bootstrap_token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "workspaces_agent_token_hash_unique" ON "workspaces" USING btree ("agent_token_hash");--> statement-breakpoint
-- Wake idle workers the moment a job becomes ready (SPEC §7); they also poll, in case a
-- notification is missed while a connection is being re-made.
CREATE FUNCTION "notify_job_ready"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('caw_jobs', NEW."kind");
	RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER "jobs_notify_ready" AFTER INSERT OR UPDATE OF "status", "run_at" ON "jobs"
	FOR EACH ROW WHEN (NEW."status" = 'queued') EXECUTE FUNCTION "notify_job_ready"();
