/** Exit codes: 0 done, 1 failed, 2 bad input (nothing was changed). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

// An error whose message is already in the user's language (the server's problem+json
// detail, translated by the API from our Accept-Language), with the exit code it means.
export class CliMessageError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CliMessageError';
    this.exitCode = exitCode;
  }
}
