// An API failure shown inline: the problem's title and detail (already in the user's
// language, from the server), or a generic line for anything else.
import { Alert } from '@patternfly/react-core';
import { ApiError } from '../api';
import { useI18n } from '../i18n';

export function ProblemAlert({ error, title }: { error: unknown; title?: string }) {
  const { t } = useI18n();
  if (error === undefined || error === null) return null;
  let heading = title;
  let detail: string;
  if (error instanceof ApiError) {
    if (error.problem.code === 'NETWORK') {
      heading ??= t('The server cannot be reached');
      detail = error.problem.detail;
    } else {
      heading ??= error.problem.title;
      detail = error.problem.detail;
    }
  } else {
    heading ??= t('Something went wrong');
    detail = error instanceof Error ? error.message : String(error);
  }
  return (
    <Alert variant="danger" isInline title={heading} className="pf-v6-u-mb-md">
      {detail !== heading ? detail : null}
    </Alert>
  );
}
