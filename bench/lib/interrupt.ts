// Ctrl-C during a benchmark: QEMU daemonizes and `labvirt server` keeps its VMs when it
// exits, so dying at once would leave VMs running. The first SIGINT or SIGTERM lets the
// step under way finish and makes the next goOn() throw, so the benchmark's own finally
// cleans up; a second one exits at once, whatever is left behind.

let interrupted = false;

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) process.exit(1);
  interrupted = true;
  console.error(`${signal}: stopping after the step under way, then cleaning up`);
}

/** Catches SIGINT and SIGTERM as above (call once, at the start of main). */
export function handleInterrupts(): void {
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
}

/** Whether SIGINT or SIGTERM came (the error a benchmark ends with is then goOn's). */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** Throws between steps once interrupted, so no new VM starts before the cleanup. */
export function goOn(): void {
  if (interrupted) throw new Error('interrupted');
}
