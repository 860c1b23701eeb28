// What went wrong talking to an agent, as one of LabVirt's errors: the agent's own error
// (problem+json carrying its code and parameters) is thrown again as it was; a certificate
// other than the pinned one, no answer at all, and anything else each have their code.
import { errorCodes, LabvirtError, type ErrorCode, type ErrorParams } from '../../domain/errors.js';
import { isPinRefusal } from './pinned-tls.js';

/** Codes of a connection that never got an answer (refused, unreachable, timed out). */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
]);

/** A failure of the connection or request itself (no HTTP answer). */
export function transportError(host: string, error: unknown): LabvirtError {
  if (error instanceof LabvirtError) return error;
  if (isPinRefusal(error)) {
    return new LabvirtError('AGENT_CERTIFICATE_MISMATCH', { host }, { cause: error });
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  const reason = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return new LabvirtError('AGENT_UNREACHABLE', { host, reason }, { cause: error });
  }
  return new LabvirtError('AGENT_REQUEST_FAILED', { host, reason }, { cause: error });
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (errorCodes as readonly string[]).includes(code);
}

function isParams(value: unknown): value is ErrorParams {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A LabVirt problem+json body (the agent's or the controller's: both carry the code and
 * its params) → its LabvirtError; undefined for anything else.
 */
export function problemOfBody(body: string): LabvirtError | undefined {
  try {
    const problem = JSON.parse(body) as { code?: unknown; params?: unknown };
    if (isErrorCode(problem.code)) {
      return new LabvirtError(problem.code, isParams(problem.params) ? problem.params : {});
    }
  } catch {
    // not JSON
  }
  return undefined;
}

/** An HTTP answer that is not a success: the agent's error when it sent one. */
export function answerError(
  host: string,
  status: number,
  contentType: string | undefined,
  body: string,
): LabvirtError {
  if (/^application\/(problem\+)?json/i.test(contentType ?? '')) {
    const problem = problemOfBody(body);
    if (problem !== undefined) return problem;
  }
  const text = body.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new LabvirtError('AGENT_REQUEST_FAILED', {
    host,
    reason: text === '' ? `HTTP ${status}` : `HTTP ${status}: ${text}`,
  });
}
