import { router } from "../init.ts";

// SPEC §14. STUB: filled by its helper.
export const sessionsRouter = router({});
