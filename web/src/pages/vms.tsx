// /vms: every VM (client and administrative), filtered from the query string, live.
import { useMemo } from 'react';
import {
  Bullseye,
  Button,
  EmptyState,
  EmptyStateBody,
  EmptyStateFooter,
  PageSection,
  Spinner,
  Title,
  Toolbar,
  ToolbarContent,
} from '@patternfly/react-core';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useResource } from '../live';
import { navigate, useRoute } from '../router';
import type { Host, Lab, Profile, Terminal, Vm } from '../types';
import { isActive } from './parts/states';
import { useVms } from './parts/use-vms';
import { VmTable } from './parts/vm-table';
import { filterVms, filtersFrom, queryOf, VmFilters, type Filters } from './parts/vm-filters';

/** Rows shown at most: ended VMs accumulate; filters narrow the rest. */
const MAX_ROWS = 500;

/** Active VMs first, then the newest. */
function byActivity(a: Vm, b: Vm): number {
  const active = Number(isActive(b.state)) - Number(isActive(a.state));
  return active !== 0 ? active : b.createdAt.localeCompare(a.createdAt);
}

export function VmsPage() {
  const { t, tn } = useI18n();
  const { query } = useRoute();
  const filters = useMemo(() => filtersFrom(query), [query]);
  const { vms, error, loading } = useVms();
  const labs = useResource<Lab[]>('/labs', ['labs']);
  const hosts = useResource<Host[]>('/hosts', ['hosts']);
  const profiles = useResource<Profile[]>('/profiles', ['profiles']);
  const terminals = useResource<Terminal[]>('/terminals', ['terminals']);
  const labOf = (mac: string) => terminals.data?.find((row) => row.mac === mac)?.lab ?? null;
  const shown = vms === undefined ? [] : filterVms(vms, filters, labOf).sort(byActivity);
  const setFilters = (next: Filters) => navigate(`/vms${queryOf(next)}`);
  const running = shown.filter((vm) => isActive(vm.state)).length;

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">{t('VMs')}</Title>
        {vms !== undefined && (
          <p>
            {tn('{count} VM shown', '{count} VMs shown', shown.length, { count: shown.length })}
            {' · '}
            {tn('{count} active', '{count} active', running, { count: running })}
          </p>
        )}
      </PageSection>
      <PageSection>
        <Toolbar>
          <ToolbarContent>
            <VmFilters
              filters={filters}
              labs={(labs.data ?? []).map((lab) => lab.name)}
              hosts={(hosts.data ?? []).map((host) => host.name)}
              profiles={(profiles.data ?? []).map((profile) => profile.name)}
              onChange={setFilters}
            />
          </ToolbarContent>
        </Toolbar>
        {error !== undefined && error !== null && <ProblemAlert error={error} />}
        {loading && vms === undefined ? (
          <Bullseye>
            <Spinner aria-label={t('Loading VMs')} />
          </Bullseye>
        ) : shown.length === 0 ? (
          <EmptyState
            headingLevel="h2"
            titleText={vms?.length === 0 ? t('No VMs yet') : t('No VMs match the filters')}
          >
            <EmptyStateBody>
              {vms?.length === 0
                ? t(
                    'A VM starts when a terminal asks for one, a lab is started, or an admin session opens.',
                  )
                : t('Clear a filter to see more VMs.')}
            </EmptyStateBody>
            {vms?.length !== 0 && (
              <EmptyStateFooter>
                <Button variant="link" onClick={() => setFilters({})}>
                  {t('Clear filters')}
                </Button>
              </EmptyStateFooter>
            )}
          </EmptyState>
        ) : (
          <>
            <VmTable vms={shown.slice(0, MAX_ROWS)} label={t('VMs')} terminals={terminals.data} />
            {shown.length > MAX_ROWS && (
              <p>{t('Only the first {count} are shown; use the filters.', { count: MAX_ROWS })}</p>
            )}
          </>
        )}
      </PageSection>
    </>
  );
}
