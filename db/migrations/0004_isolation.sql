CREATE TABLE "admin_bindings" (
	"login" text PRIMARY KEY NOT NULL,
	"github_id" bigint NOT NULL,
	"bound_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "terminal_grants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"session_id" text,
	"api_token_id" uuid,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "github_token_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "github_refresh_token_encrypted" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "github_refresh_token_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "terminal_grants" ADD CONSTRAINT "terminal_grants_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "terminal_grants" ADD CONSTRAINT "terminal_grants_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "terminal_grants" ADD CONSTRAINT "terminal_grants_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "terminal_grants" ADD CONSTRAINT "terminal_grants_api_token_id_api_tokens_id_fk" FOREIGN KEY ("api_token_id") REFERENCES "public"."api_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "terminal_grants_workspace_id_index" ON "terminal_grants" USING btree ("workspace_id");--> statement-breakpoint
CREATE INDEX "terminal_grants_expires_at_index" ON "terminal_grants" USING btree ("expires_at");--> statement-breakpoint
-- Sessions are kept by the SHA-256 of their cookie value from now on (SPEC §4); hashing the
-- stored ids keeps every signed-in browser signed in. terminal_grants is empty at this point.
UPDATE "sessions" SET "id" = encode(sha256(convert_to("id", 'UTF8')), 'hex');
