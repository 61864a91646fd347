// Keeps a running job's lease (SPEC §7) and says when it is lost. Another worker may take a
// job the moment its lease ends, so the job must be stopped *before* that moment, not after:
// its provider requests are aborted and it has time to settle while the job is still ours
// (issue #13: a request that landed after a re-take made a second server).

export type LeaseLoss =
  /** Renewal was refused: the job was canceled, finished, or another worker holds it. */
  | "not-ours"
  /** No renewal got through in time (database away or hanging): the lease is about to end. */
  | "expiring";

export type LeaseKeeperOptions = {
  leaseSeconds: number;
  /**
   * When the lease began, by this process's clock, read *before* the job was taken: the
   * database set `locked_until` from its own later `now()`, so our estimate ends no later.
   */
  takenAt: number;
  /** One renewal: true when the lease was extended, false when the job is not ours. */
  renew: () => Promise<boolean>;
  onLost: (loss: LeaseLoss) => void;
  onRenewError: (error: unknown) => void;
};

/** Renewals per lease period: a few may fail (a database restart) before the lease is lost. */
const renewalsPerLease = 5;
/**
 * How much of the lease is left when an unrenewed job is aborted: time for its handler to
 * settle (aborted requests, a last log line) while nobody else can take the job.
 */
const abortMarginShare = 1 / 4;

/** Starts keeping the lease; the returned function stops it (the job is done or handed back). */
export function keepLease(options: LeaseKeeperOptions): () => void {
  const leaseMs = options.leaseSeconds * 1000;
  const marginMs = leaseMs * abortMarginShare;
  let leaseEnds = options.takenAt + leaseMs;
  let renewing = false;
  let stopped = false;
  let deadline: NodeJS.Timeout | undefined;

  const lose = (loss: LeaseLoss) => {
    if (stopped) return;
    stop();
    options.onLost(loss);
  };
  const scheduleDeadline = () => {
    clearTimeout(deadline);
    deadline = setTimeout(() => lose("expiring"), Math.max(0, leaseEnds - marginMs - Date.now()));
  };
  const renew = async () => {
    if (renewing || stopped) return;
    renewing = true;
    // Our clock before the request: the database's new `locked_until` is at least this + lease.
    const askedAt = Date.now();
    try {
      if (!(await options.renew())) return lose("not-ours");
      if (stopped) return;
      leaseEnds = askedAt + leaseMs;
      scheduleDeadline();
    } catch (error) {
      options.onRenewError(error);
    } finally {
      renewing = false;
    }
  };
  const timer = setInterval(() => void renew(), leaseMs / renewalsPerLease);
  scheduleDeadline();
  function stop() {
    stopped = true;
    clearInterval(timer);
    clearTimeout(deadline);
  }
  return stop;
}
