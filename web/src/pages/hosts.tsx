// /hosts: every host with its state, CPU/memory/disk use and VM count, live from `metrics`;
// admins add hosts (the agent's join command) and drain or undrain them here.
import { useState } from 'react';
import { Button, Label, PageSection } from '@patternfly/react-core';
import { api } from '../api';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useLiveEvent, useResource } from '../live';
import { Link } from '../router';
import { useSession } from '../session';
import type { Host } from '../types';
import { Empty, Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { AddHostModal } from './hosts/add-host';
import { ConfirmButton } from './parts/confirm';
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

/** The cluster's facts of a host (the API's Host view). */
type ClusterHost = Host & { maintenance?: boolean; pending?: boolean };

/** Drain (asks first: no new VMs go there) or undrain a host. */
function DrainAction({ host }: { host: ClusterHost }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);
  const path = `/hosts/${encodeURIComponent(host.id)}`;
  if (host.pending === true) return null;
  if (host.maintenance !== true)
    return (
      <ConfirmButton
        text={t('Drain')}
        title={t('Drain host {name}?', { name: host.name })}
        danger={false}
        onConfirm={() => api.patch(path, { maintenance: true })}
      >
        {t('No new VMs are placed on it; those running now go on until they end.')}
      </ConfirmButton>
    );
  return (
    <>
      <ProblemAlert error={problem} />
      <Button
        variant="secondary"
        size="sm"
        isLoading={busy}
        isDisabled={busy}
        onClick={() => {
          setBusy(true);
          setProblem(undefined);
          api
            .patch(path, { maintenance: false })
            .catch((error: unknown) => setProblem(error))
            .finally(() => setBusy(false));
        }}
      >
        {t('Undrain')}
      </Button>
    </>
  );
}

export function HostsPage() {
  const { t, tn } = useI18n();
  const { can } = useSession();
  const shortDate = useShortDate();
  const { data, error, loading } = useHosts();
  const hosts = data as ClusterHost[] | undefined;
  const [adding, setAdding] = useState(false);
  const admin = can('admin');
  return (
    <>
      <PageTitle
        title={t('Hosts')}
        subtitle={
          hosts !== undefined
            ? tn('{count} host', '{count} hosts', hosts.length, { count: hosts.length })
            : undefined
        }
        actions={
          admin && (
            <Button variant="primary" onClick={() => setAdding(true)}>
              {t('Add host')}
            </Button>
          )
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
              ...(admin ? [t('Actions')] : []),
            ]}
          >
            {hosts.map((host) => (
              <Row key={host.id}>
                <Cell header>
                  <Link to={hostPath(host)}>{host.name}</Link>
                  <div style={{ fontWeight: 'normal' }}>{host.address}</div>
                </Cell>
                <Cell wrap>
                  <HostStateLabel state={host.state} />{' '}
                  {host.maintenance === true && (
                    <Label color="orange" isCompact>
                      {t('drained')}
                    </Label>
                  )}
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
                {admin && (
                  <Cell>
                    <DrainAction host={host} />
                  </Cell>
                )}
              </Row>
            ))}
          </Table>
        )}
      </PageSection>
      {adding && <AddHostModal onClose={() => setAdding(false)} />}
    </>
  );
}
