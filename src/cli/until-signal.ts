// Long-running commands (server, agent) run until SIGINT or SIGTERM, then close cleanly.

/** Resolves on the first SIGINT or SIGTERM (its handlers are then removed). */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
