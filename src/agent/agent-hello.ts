// The agent's hello at every start: POST /api/v1/agent/hello { url } tells the controller
// where this start serves (a new port, a new address). While the controller does not
// answer the agent serves anyway, and asks again; a refusal (the host was removed) is
// logged once and not repeated.
import type { FastifyBaseLogger } from 'fastify';
import { isLabvirtError } from '../domain/errors.js';
import type { Translator } from '../i18n/translator.js';
import type { ControllerClient } from './controller-client.js';

export interface HelloOptions {
  readonly log: FastifyBaseLogger;
  readonly tr: Translator;
  /** The wait before asking again (30 s). */
  readonly retryMs: number;
}

/** Starts saying hello; returns the function that stops any retry. */
export function sayHello(
  controller: Pick<ControllerClient, 'request' | 'url'>,
  url: string,
  { log, tr, retryMs }: HelloOptions,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const hello = () => {
    controller.request('POST', '/api/v1/agent/hello', { url }).then(
      () =>
        log.info(
          { url },
          tr.t('controller {controller} knows this agent at {url}', {
            controller: controller.url,
            url,
          }),
        ),
      (error: unknown) => {
        if (stopped) return;
        if (isLabvirtError(error) && (error.status === 401 || error.status === 403)) {
          log.error(
            { err: error },
            tr.t('the controller refuses this agent: {message}', { message: error.message }),
          );
          return;
        }
        log.warn(
          { err: error, retryMs },
          tr.t('telling the controller this agent’s URL failed; trying again soon'),
        );
        timer = setTimeout(hello, retryMs);
        timer.unref();
      },
    );
  };
  hello();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
