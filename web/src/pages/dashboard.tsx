// /: the whole site at a glance — labs and their terminals' VMs, hosts' use, profiles,
// terminals waiting for enrolment — kept current by live events.
import { Grid, GridItem } from '@patternfly/react-core';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useResource } from '../live';
import type { Host, Lab, Profile, Terminal } from '../types';
import { PageTitle } from './common/page-title';
import { DashboardHosts } from './dashboard/hosts';
import { DashboardLabs } from './dashboard/labs';
import { DashboardPending } from './dashboard/pending';
import { DashboardProfiles } from './dashboard/profiles';
import { isActive } from './parts/states';
import { useVms } from './parts/use-vms';

export function DashboardPage() {
  const { t } = useI18n();
  const labs = useResource<Lab[]>('/labs', ['labs']);
  const terminals = useResource<Terminal[]>('/terminals', ['terminals', 'labs']);
  const hosts = useResource<Host[]>('/hosts', ['hosts']);
  const profiles = useResource<Profile[]>('/profiles', ['profiles']);
  const { vms, error: vmError } = useVms('/vms?state=active');
  const active = (vms ?? []).filter((vm) => isActive(vm.state));
  const error = labs.error ?? terminals.error ?? hosts.error ?? profiles.error ?? vmError;

  return (
    <>
      <PageTitle title={t('Dashboard')} />
      <ProblemAlert error={error} />
      <Grid hasGutter className="pf-v6-u-px-lg pf-v6-u-pb-lg">
        <GridItem span={12}>
          <DashboardHosts hosts={hosts.data} vms={active} />
        </GridItem>
        <GridItem xl={7} lg={12}>
          <DashboardLabs labs={labs.data} terminals={terminals.data ?? []} vms={active} />
        </GridItem>
        <GridItem xl={5} lg={12}>
          <Grid hasGutter>
            <GridItem span={12}>
              <DashboardProfiles profiles={profiles.data} vms={active} />
            </GridItem>
            <GridItem span={12}>
              <DashboardPending
                terminals={(terminals.data ?? []).filter((x) => x.state === 'pending')}
              />
            </GridItem>
          </Grid>
        </GridItem>
      </Grid>
    </>
  );
}
