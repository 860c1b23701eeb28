// How hard the reliability suite pushes: CI runs the short variant; the long one (more
// fuzzing cases, more fault repetitions) is opt-in with LABVIRT_RELIABILITY_LONG=1.
export const LONG = process.env.LABVIRT_RELIABILITY_LONG === '1';

/** The count for this run: ci normally, long when the long variant is asked for. */
export function scaled(ci: number, long: number): number {
  return LONG ? long : ci;
}
