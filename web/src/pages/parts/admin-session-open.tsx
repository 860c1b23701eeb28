// An open admin session: its state, publish (with a note; a running administrative VM is
// shut down first, as publishing needs it off), boot, shut down, discard, and the VM's
// console inline.
import { useState } from 'react';
import {
  Alert,
  Button,
  Flex,
  FlexItem,
  FormGroup,
  Label,
  StackItem,
  TextInput,
} from '@patternfly/react-core';
import { api } from '../../api';
import { VncConsole } from '../../console/vnc-console';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import { useResource } from '../../live';
import { useSession } from '../../session';
import type { AdminSession, Profile, User, Vm } from '../../types';
import { ConfirmButton } from './confirm';
import { isActive, VmStateLabel } from './states';
import { useVm } from './use-vms';

interface Props {
  profile: Profile;
  session: AdminSession;
  onChange: () => void;
  onPublished: (number: number) => void;
}

export function OpenSession({ profile, session, onChange, onPublished }: Props) {
  const { t, formatDate } = useI18n();
  const { can } = useSession();
  const admin = can('admin');
  const base = `/profiles/${encodeURIComponent(profile.id)}/admin-session`;
  const live = useVm(session.vm?.id ?? null);
  const vm: Vm | null = session.vm === null ? null : (live.vm ?? session.vm);
  const vmOn = vm !== null && isActive(vm.state);
  // openedBy is a user id: named for administrators, who may list users.
  const users = useResource<User[]>(admin ? '/users' : null, ['users']);
  const opener = users.data?.find((user) => user.id === session.openedBy)?.username;
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState<'boot' | 'shutdown' | 'publish' | null>(null);
  const [problem, setProblem] = useState<unknown>(undefined);

  const stopVm = async () => {
    if (vm !== null) await api.post<Vm>(`/vms/${encodeURIComponent(vm.id)}/stop`, {});
  };
  const boot = async () => {
    setBusy('boot');
    setProblem(undefined);
    try {
      await api.post<AdminSession>(`${base}/boot`, {});
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(null);
      onChange();
    }
  };
  const publish = async () => {
    setProblem(undefined);
    try {
      if (vmOn) {
        setBusy('shutdown');
        await stopVm();
      }
      setBusy('publish');
      const text = note.trim();
      const answer = await api.post<{ number: number }>(
        `${base}/publish`,
        text !== '' ? { note: text } : {},
      );
      onPublished(answer.number);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(null);
      onChange();
    }
  };

  return (
    <>
      <StackItem>
        <Flex spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }}>
          <FlexItem>
            <Label color="purple" isCompact>
              {session.policy === 'exclusive' ? t('open, exclusive') : t('open')}
            </Label>
          </FlexItem>
          <FlexItem>
            {opener !== undefined
              ? t('Opened by {user} on {date}.', {
                  user: opener,
                  date: formatDate(session.openedAt),
                })
              : t('Opened on {date}.', { date: formatDate(session.openedAt) })}
          </FlexItem>
          <FlexItem>
            {t('Administrative VM:')} {vm !== null ? <VmStateLabel state={vm.state} /> : t('off')}
          </FlexItem>
        </Flex>
      </StackItem>
      <ProblemAlert error={problem} />
      {busy === 'shutdown' && (
        <Alert isInline variant="info" title={t('Shutting the VM down before publishing…')} />
      )}
      {admin && (
        <StackItem>
          <Flex
            alignItems={{ default: 'alignItemsFlexEnd' }}
            spaceItems={{ default: 'spaceItemsSm' }}
          >
            <FlexItem grow={{ default: 'grow' }}>
              <FormGroup label={t('Note for the new version')} fieldId="publish-note">
                <TextInput
                  id="publish-note"
                  value={note}
                  onChange={(_e, value) => setNote(value)}
                  maxLength={500}
                />
              </FormGroup>
            </FlexItem>
            <FlexItem>
              <Button
                variant="primary"
                onClick={() => void publish()}
                isLoading={busy === 'publish' || busy === 'shutdown'}
                isDisabled={busy !== null}
              >
                {t('Publish')}
              </Button>
            </FlexItem>
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
                  onConfirm={async () => {
                    await stopVm();
                    onChange();
                  }}
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
                onConfirm={async () => {
                  await api.post(`${base}/discard`, { force: true });
                  onChange();
                }}
                size="default"
                isDisabled={busy !== null}
              >
                {t(
                  'The administrative VM is stopped and every change made in this session is lost. The published version stays as it is.',
                )}
              </ConfirmButton>
            </FlexItem>
          </Flex>
          <p style={{ marginTop: '0.25rem' }}>
            {vmOn
              ? t(
                  'Publishing shuts the administrative VM down first, then makes the draft the published version.',
                )
              : t('Publishing makes the draft the published version; new VMs start from it.')}
          </p>
        </StackItem>
      )}
      {vm !== null && vmOn && (
        <StackItem>
          <VncConsole vmId={vm.id} viewOnly={!admin} height="60vh" />
        </StackItem>
      )}
    </>
  );
}
