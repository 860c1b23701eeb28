// /vms/:id: a VM's details, who is connected, its serial log and a way to its console.
import {
  Breadcrumb,
  BreadcrumbItem,
  Card,
  CardBody,
  CardTitle,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Grid,
  GridItem,
  PageSection,
} from '@patternfly/react-core';
import type { ReactNode } from 'react';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { Link, useRoute } from '../router';
import { Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { ConnectionsTable } from './parts/connections';
import { SerialLog } from './parts/serial-log';
import { KindLabel, VmStateLabel } from './parts/states';
import { useVm } from './parts/use-vms';
import { VmActions } from './parts/vm-actions';

function Item({ term, children }: { term: string; children: ReactNode }) {
  return (
    <DescriptionListGroup>
      <DescriptionListTerm>{term}</DescriptionListTerm>
      <DescriptionListDescription>{children}</DescriptionListDescription>
    </DescriptionListGroup>
  );
}

export function VmPage() {
  const { t, formatDate } = useI18n();
  const { params } = useRoute();
  const id = params['id'] ?? '';
  const { vm, error, loading } = useVm(id);

  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/vms">{t('VMs')}</Link>
          </BreadcrumbItem>
          <BreadcrumbItem isActive>{vm?.name ?? id}</BreadcrumbItem>
        </Breadcrumb>
      </PageSection>
      <PageTitle
        title={vm?.name ?? id}
        subtitle={vm !== undefined ? <VmStateLabel state={vm.state} /> : undefined}
        actions={vm !== undefined ? <VmActions vm={vm} detailed /> : undefined}
      />
      <PageSection>
        <ProblemAlert error={error} />
        {loading && vm === undefined && <Loading />}
        {vm !== undefined && (
          <Grid hasGutter>
            <GridItem md={6}>
              <Card isCompact>
                <CardTitle>{t('Details')}</CardTitle>
                <CardBody>
                  <DescriptionList isCompact isHorizontal>
                    <Item term={t('State')}>
                      <VmStateLabel state={vm.state} />
                      {vm.runStatus !== null && vm.runStatus !== vm.state && ` (${vm.runStatus})`}
                    </Item>
                    <Item term={t('Kind')}>
                      <KindLabel kind={vm.kind} />
                    </Item>
                    <Item term={t('Profile')}>
                      {vm.profileId !== null ? (
                        <Link to={`/profiles/${encodeURIComponent(vm.profileId)}`}>
                          {vm.profile ?? vm.profileId}
                        </Link>
                      ) : (
                        '—'
                      )}
                    </Item>
                    <Item term={t('Host')}>
                      {vm.host !== null ? (
                        <Link to={`/hosts/${encodeURIComponent(vm.host)}`}>{vm.host}</Link>
                      ) : (
                        '—'
                      )}
                    </Item>
                    <Item term={t('MAC address')}>{vm.mac}</Item>
                    <Item term={t('Terminal')}>{vm.terminal ?? '—'}</Item>
                    <Item term={t('Process')}>{vm.pid !== null ? String(vm.pid) : '—'}</Item>
                    <Item term={t('Started')}>{formatDate(vm.createdAt)}</Item>
                    <Item term={t('Last change')}>{formatDate(vm.updatedAt)}</Item>
                  </DescriptionList>
                </CardBody>
              </Card>
            </GridItem>
            <GridItem md={6}>
              <Card isCompact>
                <CardTitle>{t('Connections')}</CardTitle>
                <CardBody>
                  <ConnectionsTable vm={vm} />
                </CardBody>
              </Card>
            </GridItem>
            <GridItem span={12}>
              <Card isCompact>
                <CardBody>
                  <SerialLog vmId={vm.id} />
                </CardBody>
              </Card>
            </GridItem>
          </Grid>
        )}
      </PageSection>
    </>
  );
}
