// /profiles/:id: a profile's admin session (with its VM's console), version history and
// settings; import an image, clone, start a VM, delete.
import { useState } from 'react';
import {
  Breadcrumb,
  BreadcrumbItem,
  Button,
  Card,
  CardBody,
  CardTitle,
  Flex,
  FlexItem,
  PageSection,
  Stack,
  StackItem,
} from '@patternfly/react-core';
import { api } from '../api';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useResource } from '../live';
import { Link, navigate, useRoute } from '../router';
import { useSession } from '../session';
import type { Job, Profile, Vm } from '../types';
import { Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { AdminSessionPanel } from './parts/admin-session';
import { ConfirmButton } from './parts/confirm';
import { JobsPanel, useReloadOnJobEnd } from './parts/jobs-panel';
import { CloneDialog, ImportDialog } from './parts/profile-dialogs';
import { ProfileSettings } from './parts/profile-settings';
import { VersionHistory } from './parts/profile-versions';
import { isActive } from './parts/states';
import { useVms } from './parts/use-vms';
import { PublishedVersion } from './profiles';

export function ProfilePage() {
  const { t, tn } = useI18n();
  const { can } = useSession();
  const { params } = useRoute();
  const id = params['id'] ?? '';
  const resource = useResource<Profile>(`/profiles/${encodeURIComponent(id)}`, ['profiles']);
  const profile = resource.data;
  useReloadOnJobEnd(resource.reload, profile?.id);
  const { vms } = useVms('/vms?state=active');
  const [dialog, setDialog] = useState<'import' | 'clone' | null>(null);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [problem, setProblem] = useState<unknown>(undefined);
  const started = (job: Job) => setJobs((list) => [job, ...list]);
  const running = (vms ?? []).filter(
    (vm) =>
      profile !== undefined &&
      vm.profileId === profile.id &&
      vm.kind === 'client' &&
      isActive(vm.state),
  ).length;

  const startVm = async () => {
    if (profile === undefined) return;
    setProblem(undefined);
    try {
      const vm = await api.post<Vm>('/vms', { profile: profile.id });
      navigate(`/vms/${encodeURIComponent(vm.id)}`);
    } catch (error) {
      setProblem(error);
    }
  };
  const remove = async () => {
    if (profile === undefined) return;
    await api.del(`/profiles/${encodeURIComponent(profile.id)}`);
    navigate('/profiles');
  };

  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/profiles">{t('Profiles')}</Link>
          </BreadcrumbItem>
          <BreadcrumbItem isActive>{profile?.name ?? id}</BreadcrumbItem>
        </Breadcrumb>
      </PageSection>
      <PageTitle
        title={profile?.name ?? id}
        subtitle={
          profile !== undefined ? (
            <>
              {profile.description !== '' && <div>{profile.description}</div>}
              <PublishedVersion profile={profile} />
              {' · '}
              <Link to={`/vms?profile=${encodeURIComponent(profile.name)}&state=active`}>
                {tn('{count} client VM running', '{count} client VMs running', running, {
                  count: running,
                })}
              </Link>
            </>
          ) : undefined
        }
        actions={
          profile !== undefined ? (
            <Flex spaceItems={{ default: 'spaceItemsSm' }}>
              {can('operator') && profile.publishedVersion !== null && (
                <FlexItem>
                  <Button variant="primary" onClick={() => void startVm()}>
                    {t('Start VM')}
                  </Button>
                </FlexItem>
              )}
              {can('admin') && (
                <>
                  <FlexItem>
                    <Button variant="secondary" onClick={() => setDialog('import')}>
                      {t('Import')}
                    </Button>
                  </FlexItem>
                  {profile.publishedVersion !== null && (
                    <FlexItem>
                      <Button variant="secondary" onClick={() => setDialog('clone')}>
                        {t('Clone')}
                      </Button>
                    </FlexItem>
                  )}
                  <FlexItem>
                    <ConfirmButton
                      text={t('Delete')}
                      title={t('Delete {profile}?', { profile: profile.name })}
                      onConfirm={remove}
                      size="default"
                    >
                      {t('The profile and all its versions’ images are removed for good.')}
                    </ConfirmButton>
                  </FlexItem>
                </>
              )}
            </Flex>
          ) : undefined
        }
      />
      <PageSection>
        <ProblemAlert error={resource.error} />
        <ProblemAlert error={problem} />
        {resource.loading && <Loading />}
        {profile !== undefined && (
          <Stack hasGutter>
            <StackItem>
              <JobsPanel started={jobs} profileId={profile.id} onEnd={() => resource.reload()} />
            </StackItem>
            <StackItem>
              <AdminSessionPanel profile={profile} />
            </StackItem>
            <StackItem>
              <Card isCompact>
                <CardTitle>{t('Versions')}</CardTitle>
                <CardBody>
                  <VersionHistory profile={profile} />
                </CardBody>
              </Card>
            </StackItem>
            <StackItem>
              <Card isCompact>
                <CardTitle>{t('Settings')}</CardTitle>
                <CardBody>
                  <ProfileSettings profile={profile} onSaved={() => resource.reload()} />
                </CardBody>
              </Card>
            </StackItem>
          </Stack>
        )}
      </PageSection>
      {profile !== undefined && dialog === 'import' && (
        <ImportDialog profile={profile} onClose={() => setDialog(null)} onStarted={started} />
      )}
      {profile !== undefined && dialog === 'clone' && (
        <CloneDialog
          profile={profile}
          onClose={() => setDialog(null)}
          onCloned={(clone) => navigate(`/profiles/${encodeURIComponent(clone.id)}`)}
          onStarted={started}
        />
      )}
    </>
  );
}
