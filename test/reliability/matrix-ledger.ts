// A test whose whole body proves one invariant: it(name, …) with the check recorded in the
// ledger under the same name (held, or broken with its first line), so the summary counts
// what was proven without each test repeating its name.
import { it } from 'node:test';
import fc from 'fast-check';
import { invariant } from './ledger.js';

export function itHolds(name: string, check: () => unknown): void {
  void it(name, async () => {
    await invariant(name, check);
  });
}

/**
 * fc.assert, with the failing case's own assertion message in the error's message: fast-check
 * keeps it as the cause, which the test reporter does not print.
 */
export async function assertProperty<T>(
  property: fc.IAsyncProperty<T>,
  parameters: fc.Parameters<T>,
): Promise<void> {
  try {
    await fc.assert(property, parameters);
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if (error instanceof Error && cause instanceof Error)
      error.message = `${error.message}\nBecause: ${cause.message}`;
    throw error;
  }
}
