CREATE TABLE "workspace_cost_periods" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" uuid NOT NULL,
	"resource" text NOT NULL,
	"resource_id" text NOT NULL,
	"server_type" text,
	"location" text NOT NULL,
	"size_gb" integer,
	"price_hourly" numeric,
	"price_monthly" numeric,
	"currency" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "workspace_cost_periods" ADD CONSTRAINT "workspace_cost_periods_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "workspace_cost_periods_resource_unique" ON "workspace_cost_periods" USING btree ("workspace_id","resource","resource_id");