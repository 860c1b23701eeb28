// An empty list or a page still loading, said plainly.
import type { ReactNode } from 'react';
import { Bullseye, EmptyState, EmptyStateBody, Spinner } from '@patternfly/react-core';
import { useI18n } from '../../i18n';

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <EmptyState titleText={title} headingLevel="h2" variant="sm">
      {children !== undefined && <EmptyStateBody>{children}</EmptyStateBody>}
    </EmptyState>
  );
}

export function Loading() {
  const { t } = useI18n();
  return (
    <Bullseye className="pf-v6-u-p-lg">
      <Spinner size="lg" aria-label={t('Loading')} />
    </Bullseye>
  );
}
