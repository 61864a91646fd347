import type { Readiness, ReadinessCheck } from "../services/health.ts";

// SIGTERM's first effect on either program: /readyz turns 503 at once, so a load balancer or
// an orchestrator stops sending work before the process stops taking it.

export type DrainSwitch = {
  /** Readiness that is never ready once draining began. */
  checkReadiness: ReadinessCheck;
  begin: () => void;
  readonly draining: boolean;
};

export function createDrainSwitch(check: ReadinessCheck, reason: string): DrainSwitch {
  let draining = false;
  return {
    async checkReadiness(): Promise<Readiness> {
      if (!draining) return check();
      // The database's own state still shows, so a probe can tell a drain from an outage.
      const readiness: Readiness & { draining: true } = {
        ...(await check()),
        ready: false,
        draining: true,
        reason,
      };
      return readiness;
    },
    begin() {
      draining = true;
    },
    get draining() {
      return draining;
    },
  };
}
