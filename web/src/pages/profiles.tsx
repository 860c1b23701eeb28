// /profiles: every profile with its published version, admin session and running VMs;
// create, import an image (a job, its progress shown), clone, start a VM.
import { useState } from 'react';
import {
  Button,
  Flex,
  FlexItem,
  Label,
  PageSection,
  Stack,
  StackItem,
} from '@patternfly/react-core';
import { api } from '../api';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useResource } from '../live';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import type { Job, Profile, Version, Vm } from '../types';
import { Empty, Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { useAdminSession } from './parts/admin-session';
import { JobsPanel, useReloadOnJobEnd } from './parts/jobs-panel';
import { CloneDialog, CreateProfileDialog, ImportDialog } from './parts/profile-dialogs';
import { isActive } from './parts/states';
import { Cell, Row, Table } from './parts/table';
import { useVms } from './parts/use-vms';

export function profilePath(profile: Pick<Profile, 'id'>): string {
  return `/profiles/${encodeURIComponent(profile.id)}`;
}

export function PublishedVersion({ profile }: { profile: Profile }) {
  const { t } = useI18n();
  const versions = useResource<Version[]>(`/profiles/${encodeURIComponent(profile.id)}/versions`, [
    'profiles',
  ]);
  useReloadOnJobEnd(versions.reload, profile.id);
  if (profile.publishedVersion === null)
    return (
      <Label color="orange" isCompact>
        {t('no image yet')}
      </Label>
    );
  const published = versions.data?.find((version) => version.id === profile.publishedVersion);
  return <>{published !== undefined ? t('version {number}', { number: published.number }) : '…'}</>;
}

function AdminSessionCell({ profileId }: { profileId: string }) {
  const { t } = useI18n();
  const { session } = useAdminSession(profileId);
  if (session === undefined) return <>…</>;
  if (session === null) return <>{t('none')}</>;
  return (
    <Label color="purple" isCompact>
      {session.vm !== null && isActive(session.vm.state) ? t('open, VM running') : t('open')}
    </Label>
  );
}

type Dialog =
  { kind: 'create' } | { kind: 'import'; profile: Profile } | { kind: 'clone'; profile: Profile };

export function ProfilesPage() {
  const { t, tn, formatNumber } = useI18n();
  const { can } = useSession();
  const profiles = useResource<Profile[]>('/profiles', ['profiles']);
  const { vms } = useVms('/vms?state=active');
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [problem, setProblem] = useState<unknown>(undefined);
  const running = (profile: Profile) =>
    (vms ?? []).filter((vm: Vm) => vm.profileId === profile.id && isActive(vm.state)).length;
  const started = (job: Job) => setJobs((list) => [job, ...list]);
  const startVm = async (profile: Profile) => {
    setProblem(undefined);
    try {
      const vm = await api.post<Vm>('/vms', { profile: profile.id });
      navigate(`/vms/${encodeURIComponent(vm.id)}`);
    } catch (error) {
      setProblem(error);
    }
  };
  useReloadOnJobEnd(profiles.reload);
  const list = profiles.data;

  return (
    <>
      <PageTitle
        title={t('Profiles')}
        subtitle={t('The VM definitions and their golden images.')}
        actions={
          can('admin') ? (
            <Button variant="primary" onClick={() => setDialog({ kind: 'create' })}>
              {t('Create profile')}
            </Button>
          ) : undefined
        }
      />
      <PageSection>
        <Stack hasGutter>
          <StackItem>
            <JobsPanel started={jobs} onEnd={() => profiles.reload()} />
          </StackItem>
          <StackItem>
            <ProblemAlert error={profiles.error} />
            <ProblemAlert error={problem} />
            {profiles.loading && <Loading />}
            {list !== undefined && list.length === 0 && (
              <Empty title={t('No profiles yet')}>
                {t('Create a profile, then import a disk image into it.')}
              </Empty>
            )}
            {list !== undefined && list.length > 0 && (
              <Table
                label={t('Profiles')}
                columns={[
                  t('Name'),
                  t('Published'),
                  t('Admin session'),
                  t('VMs running'),
                  t('Memory'),
                  t('CPUs'),
                  '',
                ]}
              >
                {list.map((profile) => (
                  <Row key={profile.id}>
                    <Cell header wrap>
                      <Link to={profilePath(profile)}>{profile.name}</Link>
                      {profile.description !== '' && (
                        <div style={{ fontWeight: 'normal' }}>{profile.description}</div>
                      )}
                    </Cell>
                    <Cell>
                      <PublishedVersion profile={profile} />
                    </Cell>
                    <Cell>
                      <AdminSessionCell profileId={profile.id} />
                    </Cell>
                    <Cell>
                      <Link to={`/vms?profile=${encodeURIComponent(profile.name)}&state=active`}>
                        {tn('{count} VM', '{count} VMs', running(profile), {
                          count: running(profile),
                        })}
                      </Link>
                    </Cell>
                    <Cell>{t('{mib} MiB', { mib: formatNumber(profile.memoryMiB) })}</Cell>
                    <Cell>{formatNumber(profile.cpus)}</Cell>
                    <Cell actions>
                      <Flex
                        spaceItems={{ default: 'spaceItemsSm' }}
                        flexWrap={{ default: 'nowrap' }}
                      >
                        {can('operator') && profile.publishedVersion !== null && (
                          <FlexItem>
                            <Button
                              variant="secondary"
                              size="sm"
                              onClick={() => void startVm(profile)}
                            >
                              {t('Start VM')}
                            </Button>
                          </FlexItem>
                        )}
                        {can('admin') && (
                          <FlexItem>
                            <Button
                              variant="secondary"
                              size="sm"
                              onClick={() => setDialog({ kind: 'import', profile })}
                            >
                              {t('Import')}
                            </Button>
                          </FlexItem>
                        )}
                        {can('admin') && profile.publishedVersion !== null && (
                          <FlexItem>
                            <Button
                              variant="secondary"
                              size="sm"
                              onClick={() => setDialog({ kind: 'clone', profile })}
                            >
                              {t('Clone')}
                            </Button>
                          </FlexItem>
                        )}
                      </Flex>
                    </Cell>
                  </Row>
                ))}
              </Table>
            )}
          </StackItem>
        </Stack>
      </PageSection>
      {dialog?.kind === 'create' && (
        <CreateProfileDialog onClose={() => setDialog(null)} onCreated={() => profiles.reload()} />
      )}
      {dialog?.kind === 'import' && (
        <ImportDialog
          profile={dialog.profile}
          onClose={() => setDialog(null)}
          onStarted={started}
        />
      )}
      {dialog?.kind === 'clone' && (
        <CloneDialog
          profile={dialog.profile}
          onClose={() => setDialog(null)}
          onCloned={() => profiles.reload()}
          onStarted={started}
        />
      )}
    </>
  );
}
