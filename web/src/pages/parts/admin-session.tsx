// A profile's admin session: open one (a writable draft booted as the administrative VM),
// work in its console, then publish the draft with a note or discard it (see
// admin-session-open.tsx). Administrators act; others see its state.
import { useState } from 'react';
import {
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  Checkbox,
  Stack,
  StackItem,
} from '@patternfly/react-core';
import { api, ApiError } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import { useResource } from '../../live';
import { useSession } from '../../session';
import type { AdminSession, Profile } from '../../types';
import { Loading } from '../common/empty';
import { OpenSession } from './admin-session-open';

/** The profile's open admin session: undefined while loading, null when none is open. */
export function useAdminSession(profileId: string) {
  const resource = useResource<AdminSession>(
    `/profiles/${encodeURIComponent(profileId)}/admin-session`,
    ['profiles', 'vms'],
  );
  const none = resource.error instanceof ApiError && resource.error.status === 404;
  const session = none ? null : resource.data;
  return { ...resource, session, error: none ? undefined : resource.error };
}

export function AdminSessionPanel({ profile }: { profile: Profile }) {
  const { t } = useI18n();
  const { can } = useSession();
  const { session, error, loading, reload } = useAdminSession(profile.id);
  const [exclusive, setExclusive] = useState(profile.adminPolicy === 'exclusive');
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);
  const [published, setPublished] = useState<number | null>(null);
  const admin = can('admin');

  const open = async () => {
    setBusy(true);
    setProblem(undefined);
    setPublished(null);
    try {
      await api.post<AdminSession>(`/profiles/${encodeURIComponent(profile.id)}/admin-session`, {
        exclusive,
        ...(exclusive && force ? { force } : {}),
      });
    } catch (failure) {
      setProblem(failure);
    } finally {
      setBusy(false);
      reload();
    }
  };

  return (
    <Card isCompact>
      <CardTitle>{t('Admin session')}</CardTitle>
      <CardBody>
        <Stack hasGutter>
          <ProblemAlert error={error} />
          <ProblemAlert error={problem} />
          {published !== null && session === null && (
            <Alert
              isInline
              variant="success"
              title={t('Published as version {number}', { number: published })}
            />
          )}
          {loading && session === undefined && <Loading />}
          {session === null && (
            <>
              <StackItem>
                {t(
                  'No admin session is open. Open one to change the golden image: the published version is copied to a draft and booted with a writable disk.',
                )}
              </StackItem>
              {admin && profile.publishedVersion === null && (
                <StackItem>{t('Import an image first: there is nothing to change yet.')}</StackItem>
              )}
              {admin && profile.publishedVersion !== null && (
                <StackItem>
                  <Checkbox
                    id="admin-exclusive"
                    label={t('Exclusive: no client VM of this profile runs while it is open')}
                    isChecked={exclusive}
                    onChange={(_e, checked) => setExclusive(checked)}
                  />
                  {exclusive && (
                    <Checkbox
                      id="admin-force"
                      label={t('Shut running client VMs down first')}
                      isChecked={force}
                      onChange={(_e, checked) => setForce(checked)}
                    />
                  )}
                  <Button
                    variant="primary"
                    onClick={() => void open()}
                    isLoading={busy}
                    isDisabled={busy}
                    style={{ marginTop: '0.5rem' }}
                  >
                    {t('Open admin session')}
                  </Button>
                </StackItem>
              )}
            </>
          )}
          {session != null && (
            <OpenSession
              profile={profile}
              session={session}
              onChange={reload}
              onPublished={setPublished}
            />
          )}
        </Stack>
      </CardBody>
    </Card>
  );
}
