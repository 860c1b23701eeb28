// A profile's admin session: open one (a writable draft booted as the administrative VM),
// work in its console, then publish the draft with a note (the VM is shut down first) or
// discard it. Administrators act; others see its state.
import { useState } from 'react';
import {
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  Checkbox,
  Flex,
  FlexItem,
  Label,
  Stack,
  StackItem,
  TextArea,
} from '@patternfly/react-core';
import { api, ApiError } from '../../api';
import { VncConsole } from '../../console/vnc-console';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import { useResource } from '../../live';
import { useSession } from '../../session';
import type { AdminSession, Profile, Vm } from '../../types';
import { ConfirmButton } from './confirm';
import { isActive, VmStateLabel } from './states';
import { useVm } from './use-vms';

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

interface Published {
  versionId: string;
  number: number;
}

export function AdminSessionPanel({ profile }: { profile: Profile }) {
  const { t, formatDate } = useI18n();
  const { can } = useSession();
  const base = `/profiles/${encodeURIComponent(profile.id)}/admin-session`;
  const { session, error, loading, reload } = useAdminSession(profile.id);
  const live = useVm(session?.vm?.id ?? null);
  const vm: Vm | null = session?.vm == null ? null : (live.vm ?? session.vm);
  const vmOn = vm !== null && isActive(vm.state);
  const [exclusive, setExclusive] = useState(profile.adminPolicy === 'exclusive');
  const [force, setForce] = useState(false);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [problem, setProblem] = useState<unknown>(undefined);
  const [published, setPublished] = useState<Published | null>(null);
  const admin = can('admin');

  const act = async (what: string, action: () => Promise<unknown>) => {
    setBusy(what);
    setProblem(undefined);
    try {
      await action();
    } catch (failure) {
      setProblem(failure);
    } finally {
      setBusy(null);
      reload();
    }
  };
  const open = () =>
    act('open', async () => {
      setPublished(null);
      await api.post<AdminSession>(base, { exclusive, ...(exclusive && force ? { force } : {}) });
    });
  const boot = () => act('boot', () => api.post<AdminSession>(`${base}/boot`, {}));
  const shutDown = async () => {
    if (vm !== null) await api.post<Vm>(`/vms/${encodeURIComponent(vm.id)}/stop`, {});
    reload();
  };
  // Publishing needs the VM off: shut it down first (the stop answers once it ended).
  const publish = () =>
    act('publish', async () => {
      if (vm !== null && vmOn) {
        setBusy('shutdown');
        await api.post<Vm>(`/vms/${encodeURIComponent(vm.id)}/stop`, {});
        setBusy('publish');
      }
      const text = note.trim();
      setPublished(await api.post<Published>(`${base}/publish`, text !== '' ? { note: text } : {}));
      setNote('');
    });
  const discard = async () => {
    await api.post(`${base}/discard`, { force: true });
    reload();
  };

  return (
    <Card isCompact>
      <CardTitle>{t('Admin session')}</CardTitle>
      <CardBody>
        <Stack hasGutter>
          <ProblemAlert error={error} />
          <ProblemAlert error={problem} />
          {published !== null && (
            <Alert
              isInline
              variant="success"
              title={t('Published as version {number}', { number: published.number })}
            />
          )}
          {loading && session === undefined && <p>{t('Loading')}</p>}
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
                    isLoading={busy === 'open'}
                    isDisabled={busy !== null}
                    style={{ marginTop: '0.5rem' }}
                  >
                    {t('Open admin session')}
                  </Button>
                </StackItem>
              )}
            </>
          )}
          {session != null && (
            <>
              <StackItem>
                <Flex
                  spaceItems={{ default: 'spaceItemsSm' }}
                  alignItems={{ default: 'alignItemsCenter' }}
                >
                  <FlexItem>
                    <Label color="purple" isCompact>
                      {session.policy === 'exclusive' ? t('open, exclusive') : t('open')}
                    </Label>
                  </FlexItem>
                  <FlexItem>
                    {session.openedBy !== null
                      ? t('Opened by {user} on {date}.', {
                          user: session.openedBy,
                          date: formatDate(session.openedAt),
                        })
                      : t('Opened on {date}.', { date: formatDate(session.openedAt) })}
                  </FlexItem>
                  <FlexItem>
                    {t('Administrative VM:')}{' '}
                    {vm !== null ? <VmStateLabel state={vm.state} /> : t('off')}
                  </FlexItem>
                </Flex>
              </StackItem>
              {busy === 'shutdown' && (
                <Alert
                  isInline
                  variant="info"
                  title={t('Shutting the VM down before publishing…')}
                />
              )}
              {admin && (
                <StackItem>
                  <Flex spaceItems={{ default: 'spaceItemsSm' }}>
                    {!vmOn && (
                      <FlexItem>
                        <Button
                          variant="secondary"
                          onClick={() => void boot()}
                          isLoading={busy === 'boot'}
                          isDisabled={busy !== null}
                        >
                          {t('Boot')}
                        </Button>
                      </FlexItem>
                    )}
                    {vmOn && (
                      <FlexItem>
                        <ConfirmButton
                          text={t('Shut down')}
                          title={t('Shut the administrative VM down?')}
                          onConfirm={shutDown}
                          size="default"
                          isDisabled={busy !== null}
                        >
                          {t('The guest is asked to power off; what it wrote stays in the draft.')}
                        </ConfirmButton>
                      </FlexItem>
                    )}
                    <FlexItem>
                      <ConfirmButton
                        text={t('Discard')}
                        title={t('Discard the draft?')}
                        onConfirm={discard}
                        size="default"
                        isDisabled={busy !== null}
                      >
                        {t(
                          'The administrative VM is stopped and every change made in this session is lost. The published version stays as it is.',
                        )}
                      </ConfirmButton>
                    </FlexItem>
                  </Flex>
                </StackItem>
              )}
              {vm !== null && vmOn && (
                <StackItem>
                  <VncConsole vmId={vm.id} viewOnly={!admin} height="60vh" />
                </StackItem>
              )}
              {admin && (
                <StackItem>
                  <label htmlFor="publish-note">{t('Note for the new version')}</label>
                  <TextArea
                    id="publish-note"
                    value={note}
                    onChange={(_e, value) => setNote(value)}
                    resizeOrientation="vertical"
                    maxLength={500}
                  />
                  <p>
                    {vmOn
                      ? t(
                          'Publishing shuts the administrative VM down first, then makes the draft the published version.',
                        )
                      : t(
                          'Publishing makes the draft the published version; new VMs start from it.',
                        )}
                  </p>
                  <Button
                    variant="primary"
                    onClick={() => void publish()}
                    isLoading={busy === 'publish' || busy === 'shutdown'}
                    isDisabled={busy !== null}
                  >
                    {t('Publish')}
                  </Button>
                </StackItem>
              )}
            </>
          )}
        </Stack>
      </CardBody>
    </Card>
  );
}
