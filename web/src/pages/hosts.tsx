// /hosts: every host with its state, CPU/memory/disk use and VM count, live from `metrics`.
import { PageSection } from '@patternfly/react-core';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useLiveEvent, useResource } from '../live';
import { Link } from '../router';
import type { Host } from '../types';
import { Empty, Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { HostStateLabel } from './parts/states';
import { Cell, Row, Table } from './parts/table';
import { CpuBar, DiskBar, MemoryBar } from './parts/usage';
import { useShortDate } from './parts/vm-table';

/** The hosts list kept current by `metrics` events. */
export function useHosts() {
  const hosts = useResource<Host[]>('/hosts', ['hosts']);
  const { setData } = hosts;
  useLiveEvent('metrics', ({ host, sample }) =>
    setData((list) => list?.map((row) => (row.id === host ? { ...row, usage: sample } : row))),
  );
  return hosts;
}

export function hostPath(host: Pick<Host, 'id'>): string {
  return `/hosts/${encodeURIComponent(host.id)}`;
}

export function HostsPage() {
  const { t, tn } = useI18n();
  const shortDate = useShortDate();
  const { data: hosts, error, loading } = useHosts();
  return (
    <>
      <PageTitle
        title={t('Hosts')}
        subtitle={
          hosts !== undefined
            ? tn('{count} host', '{count} hosts', hosts.length, { count: hosts.length })
            : undefined
        }
      />
      <PageSection>
        <ProblemAlert error={error} />
        {loading && <Loading />}
        {hosts !== undefined && hosts.length === 0 && (
          <Empty title={t('No hosts')}>
            {t('The server adds its own machine when it starts.')}
          </Empty>
        )}
        {hosts !== undefined && hosts.length > 0 && (
          <Table
            label={t('Hosts')}
            columns={[
              t('Name'),
              t('State'),
              t('CPU'),
              t('Memory'),
              t('Disk'),
              t('VMs'),
              t('Last seen'),
            ]}
          >
            {hosts.map((host) => (
              <Row key={host.id}>
                <Cell header>
                  <Link to={hostPath(host)}>{host.name}</Link>
                  <div style={{ fontWeight: 'normal' }}>{host.address}</div>
                </Cell>
                <Cell wrap>
                  <HostStateLabel state={host.state} />
                  {host.stateReason !== null && host.state !== 'online' && (
                    <div>{host.stateReason}</div>
                  )}
                </Cell>
                <Cell>{host.usage !== null ? <CpuBar usage={host.usage} /> : '—'}</Cell>
                <Cell>{host.usage !== null ? <MemoryBar usage={host.usage} /> : '—'}</Cell>
                <Cell>{host.usage !== null ? <DiskBar usage={host.usage} /> : '—'}</Cell>
                <Cell>
                  <Link to={`/vms?host=${encodeURIComponent(host.name)}&state=active`}>
                    {host.usage !== null
                      ? tn('{count} VM', '{count} VMs', host.usage.vms, {
                          count: host.usage.vms,
                        })
                      : t('VMs')}
                  </Link>
                </Cell>
                <Cell>{host.lastSeenAt !== null ? shortDate(host.lastSeenAt) : '—'}</Cell>
              </Row>
            ))}
          </Table>
        )}
      </PageSection>
    </>
  );
}
