import { z } from "zod";
import { AppError } from "../../errors.ts";
import { streamLiveSignals } from "../../services/live-updates.ts";
import { protectedProcedure, router } from "../init.ts";
import { toTrpcError } from "../init.ts";

// The push behind every live screen (issue #14, ADR 0021): a subscription over SSE that says
// which of the caller's workspaces changed and how; the page then refetches what it shows.
// It carries ids and a word, never a value, and only ever the caller's own workspaces.

export const liveRouter = router({
  /** `resync` when the feed is (again) up, `down` when it is not, `change` per change. */
  updates: protectedProcedure
    .input(z.object({}).strict().optional())
    .subscription(async function* ({ ctx, signal }) {
      if (!ctx.liveUpdates)
        throw toTrpcError(
          new AppError(
            "PRECONDITION_FAILED",
            "Live updates are off in this process; pages refresh by polling instead.",
          ),
        );
      yield* streamLiveSignals(
        ctx.liveUpdates,
        ctx.user.id,
        signal ?? new AbortController().signal,
      );
    }),
});
