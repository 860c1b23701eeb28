// Runs the controller's periodic policy (idle VMs, timetable changes) every so often, one
// round at a time: a slow round delays the next instead of overlapping it.
export interface Scheduler {
  stop(): Promise<void>;
}

export function startScheduler(
  round: () => Promise<unknown>,
  intervalMs: number,
  log: (error: unknown) => void,
): Scheduler {
  let running: Promise<void> | undefined;
  let stopped = false;
  const timer = setInterval(() => {
    if (running !== undefined || stopped) return;
    running = round()
      .then(() => undefined, log)
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
