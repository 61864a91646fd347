-- Live updates (issue #14, ADR 0021): every change a workspace screen shows sends NOTIFY on
-- `caw_live` with {"user", "workspace", "change"} (ids and a word, never a value), so each web
-- process can push it to that user's open pages. PostgreSQL delivers one notification per
-- distinct payload per transaction, so a report that rewrites many rows sends one.
CREATE FUNCTION "notify_live_change"("owner" uuid, "workspace" uuid, "change" text) RETURNS void
	LANGUAGE sql AS $$
	SELECT pg_notify('caw_live', json_build_object('user', "owner", 'workspace', "workspace", 'change', "change")::text)
	WHERE "owner" IS NOT NULL;
$$;--> statement-breakpoint
CREATE FUNCTION "notify_live_workspace"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM "notify_live_change"(NEW."user_id", NEW."id", 'workspace');
	RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE FUNCTION "notify_live_workspace_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (OLD."state", OLD."state_reason", OLD."name", OLD."branch", OLD."idle_timeout_minutes",
			OLD."max_working_hours", OLD."secret_names", OLD."idle_stop_at", OLD."agent_url",
			OLD."server_id", OLD."updated_at", OLD."deleted_at")
		IS DISTINCT FROM (NEW."state", NEW."state_reason", NEW."name", NEW."branch",
			NEW."idle_timeout_minutes", NEW."max_working_hours", NEW."secret_names",
			NEW."idle_stop_at", NEW."agent_url", NEW."server_id", NEW."updated_at", NEW."deleted_at")
	THEN
		PERFORM "notify_live_change"(NEW."user_id", NEW."id", 'workspace');
	END IF;
	RETURN NULL;
END;
$$;--> statement-breakpoint
-- Not on heartbeats and activity alone: those change nothing a page shows but would wake
-- every open page of the user every few seconds.
CREATE TRIGGER "workspaces_notify_live_insert" AFTER INSERT ON "workspaces"
	FOR EACH ROW EXECUTE FUNCTION "notify_live_workspace"();--> statement-breakpoint
CREATE TRIGGER "workspaces_notify_live_update" AFTER UPDATE ON "workspaces"
	FOR EACH ROW EXECUTE FUNCTION "notify_live_workspace_update"();--> statement-breakpoint
-- The rows below name their workspace; its owner is one primary-key lookup away.
CREATE FUNCTION "notify_live_workspace_row"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	"workspace" uuid;
BEGIN
	IF TG_OP = 'DELETE' THEN "workspace" := OLD."workspace_id"; ELSE "workspace" := NEW."workspace_id"; END IF;
	PERFORM "notify_live_change"(
		(SELECT "user_id" FROM "workspaces" WHERE "id" = "workspace"), "workspace", TG_ARGV[0]);
	RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER "workspace_events_notify_live" AFTER INSERT ON "workspace_events"
	FOR EACH ROW EXECUTE FUNCTION "notify_live_workspace_row"('timeline');--> statement-breakpoint
CREATE TRIGGER "workspace_sessions_notify_live" AFTER INSERT OR UPDATE OR DELETE ON "workspace_sessions"
	FOR EACH ROW EXECUTE FUNCTION "notify_live_workspace_row"('sessions');--> statement-breakpoint
CREATE TRIGGER "workspace_cost_periods_notify_live" AFTER INSERT OR UPDATE ON "workspace_cost_periods"
	FOR EACH ROW EXECUTE FUNCTION "notify_live_workspace_row"('cost');--> statement-breakpoint
CREATE TRIGGER "notifications_notify_live" AFTER INSERT ON "notifications"
	FOR EACH ROW EXECUTE FUNCTION "notify_live_workspace_row"('notification');--> statement-breakpoint
-- Jobs: not on lease renewals (locked_until), only on what the job log shows.
CREATE TRIGGER "jobs_notify_live" AFTER INSERT OR UPDATE OF "status", "attempts", "last_error" ON "jobs"
	FOR EACH ROW WHEN (NEW."workspace_id" IS NOT NULL)
	EXECUTE FUNCTION "notify_live_workspace_row"('job');--> statement-breakpoint
CREATE FUNCTION "notify_live_job_event"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM "notify_live_change"("workspaces"."user_id", "workspaces"."id", 'job')
		FROM "jobs" JOIN "workspaces" ON "workspaces"."id" = "jobs"."workspace_id"
		WHERE "jobs"."id" = NEW."job_id";
	RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER "job_events_notify_live" AFTER INSERT ON "job_events"
	FOR EACH ROW EXECUTE FUNCTION "notify_live_job_event"();
