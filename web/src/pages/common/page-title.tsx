// A page's heading row: the title, an optional line under it, and its main actions.
import type { ReactNode } from 'react';
import { Flex, FlexItem, PageSection, Title } from '@patternfly/react-core';

export function PageTitle({
  title,
  subtitle,
  actions,
}: {
  title: ReactNode;
  subtitle?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <PageSection>
      <Flex alignItems={{ default: 'alignItemsCenter' }}>
        <FlexItem grow={{ default: 'grow' }}>
          <Title headingLevel="h1">{title}</Title>
          {subtitle !== undefined && <div className="lv-subtle">{subtitle}</div>}
        </FlexItem>
        {actions !== undefined && <FlexItem>{actions}</FlexItem>}
      </Flex>
    </PageSection>
  );
}
