// The agent API's errors as problem+json carrying the LabvirtError's code and parameters,
// so a RemoteAgent throws the very error the agent's HostAgent threw. The detail stays in
// English: controllers translate by code for their own callers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatMessage, type LabvirtError, type ErrorParams } from '../../domain/errors.js';

export interface AgentProblem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly params: ErrorParams;
  readonly instance: string;
}

export function agentProblem(error: LabvirtError, request: FastifyRequest): AgentProblem {
  const message = formatMessage(error.code, error.params);
  return {
    type: `urn:labvirt:problem:${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: message,
    status: error.status,
    code: error.code,
    detail: message,
    params: error.params,
    instance: request.url.split('?')[0] ?? request.url,
  };
}

export function sendAgentProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  error: LabvirtError,
): FastifyReply {
  return reply
    .code(error.status)
    .type('application/problem+json; charset=utf-8')
    .send(agentProblem(error, request));
}
