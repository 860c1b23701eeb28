// A profile's settings (the VM definition): a form that sends only what changed (PATCH).
// Read-only below administrator.
import { useEffect, useState, type FormEvent } from 'react';
import {
  ActionGroup,
  Alert,
  Button,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Grid,
  GridItem,
  TextInput,
} from '@patternfly/react-core';
import { api } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import { useSession } from '../../session';
import type { Profile } from '../../types';

interface Draft {
  name: string;
  description: string;
  memoryMiB: string;
  cpus: string;
  nicModel: string;
  diskBus: string;
  display: string;
  guestPort: string;
  adminPolicy: string;
  cdrom: string;
}

function draftOf(profile: Profile): Draft {
  return {
    name: profile.name,
    description: profile.description,
    memoryMiB: String(profile.memoryMiB),
    cpus: String(profile.cpus),
    nicModel: profile.nicModel,
    diskBus: profile.diskBus,
    display: profile.display,
    guestPort: profile.guestPort === null ? '' : String(profile.guestPort),
    adminPolicy: profile.adminPolicy,
    cdrom: profile.cdrom ?? '',
  };
}

/** The PATCH body: the fields whose value differs from the profile's; pure, for tests. */
export function changesOf(profile: Profile, draft: Draft): Record<string, unknown> {
  const before = draftOf(profile);
  const body: Record<string, unknown> = {};
  for (const key of Object.keys(draft) as (keyof Draft)[]) {
    if (draft[key] === before[key]) continue;
    const value = draft[key].trim();
    body[key] =
      key === 'memoryMiB' || key === 'cpus'
        ? Number(value)
        : key === 'guestPort' || key === 'cdrom'
          ? value === ''
            ? null
            : key === 'guestPort'
              ? Number(value)
              : value
          : value;
  }
  return body;
}

export function ProfileSettings({
  profile,
  onSaved,
}: {
  profile: Profile;
  onSaved: (p: Profile) => void;
}) {
  const { t } = useI18n();
  const { can } = useSession();
  const readOnly = !can('admin');
  const [draft, setDraft] = useState<Draft>(() => draftOf(profile));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);
  useEffect(() => setDraft(draftOf(profile)), [profile]);
  const changes = changesOf(profile, draft);
  const dirty = Object.keys(changes).length > 0;
  const field = (key: keyof Draft) => ({
    id: `profile-${key}`,
    value: draft[key],
    onChange: (_event: unknown, value: string) => {
      setSaved(false);
      setDraft((current) => ({ ...current, [key]: value }));
    },
  });
  const text = (key: keyof Draft) => ({
    ...field(key),
    ...(readOnly ? { readOnlyVariant: 'default' as const } : {}),
  });
  const save = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      onSaved(await api.patch<Profile>(`/profiles/${encodeURIComponent(profile.id)}`, changes));
      setSaved(true);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Form onSubmit={(event) => void save(event)} isWidthLimited={false}>
      <Grid hasGutter md={6} lg={4}>
        <GridItem>
          <FormGroup label={t('Name')} fieldId="profile-name" isRequired>
            <TextInput {...text('name')} isRequired />
          </FormGroup>
        </GridItem>
        <GridItem lg={8}>
          <FormGroup label={t('Description')} fieldId="profile-description">
            <TextInput {...text('description')} />
          </FormGroup>
        </GridItem>
        <GridItem>
          <FormGroup label={t('Memory (MiB)')} fieldId="profile-memoryMiB">
            <TextInput {...text('memoryMiB')} type="number" min={16} />
          </FormGroup>
        </GridItem>
        <GridItem>
          <FormGroup label={t('CPUs')} fieldId="profile-cpus">
            <TextInput {...text('cpus')} type="number" min={1} max={64} />
          </FormGroup>
        </GridItem>
        <GridItem>
          <FormGroup label={t('Network card')} fieldId="profile-nicModel">
            <FormSelect isDisabled={readOnly} {...field('nicModel')}>
              <FormSelectOption value="virtio" label="virtio" />
              <FormSelectOption value="e1000" label="e1000" />
              <FormSelectOption value="rtl8139" label="rtl8139" />
            </FormSelect>
          </FormGroup>
        </GridItem>
        <GridItem>
          <FormGroup label={t('Disk bus')} fieldId="profile-diskBus">
            <FormSelect isDisabled={readOnly} {...field('diskBus')}>
              <FormSelectOption value="ide" label="IDE" />
              <FormSelectOption value="virtio" label="virtio" />
            </FormSelect>
          </FormGroup>
        </GridItem>
        <GridItem>
          <FormGroup label={t('Display protocol')} fieldId="profile-display">
            <FormSelect isDisabled={readOnly} {...field('display')}>
              <FormSelectOption value="rdp" label="RDP" />
              <FormSelectOption value="vnc" label="VNC" />
              <FormSelectOption value="spice" label="SPICE" />
            </FormSelect>
          </FormGroup>
        </GridItem>
        <GridItem>
          <FormGroup label={t('Guest port')} fieldId="profile-guestPort">
            <TextInput
              {...field('guestPort')}
              type="number"
              min={1}
              max={65535}
              placeholder={t('default')}
            />
          </FormGroup>
        </GridItem>
        <GridItem>
          <FormGroup label={t('Admin sessions')} fieldId="profile-adminPolicy">
            <FormSelect isDisabled={readOnly} {...field('adminPolicy')}>
              <FormSelectOption value="shared" label={t('shared: client VMs may run meanwhile')} />
              <FormSelectOption value="exclusive" label={t('exclusive: no client VMs meanwhile')} />
            </FormSelect>
          </FormGroup>
        </GridItem>
        <GridItem>
          <FormGroup label={t('CD-ROM (file in the ISO library)')} fieldId="profile-cdrom">
            <TextInput {...text('cdrom')} placeholder={t('none')} />
          </FormGroup>
        </GridItem>
      </Grid>
      <ProblemAlert error={problem} />
      {saved && !dirty && <Alert isInline variant="success" title={t('Settings saved')} />}
      {!readOnly && (
        <ActionGroup>
          <Button type="submit" variant="primary" isDisabled={!dirty || busy} isLoading={busy}>
            {t('Save')}
          </Button>
          <Button
            variant="link"
            isDisabled={!dirty || busy}
            onClick={() => setDraft(draftOf(profile))}
          >
            {t('Reset')}
          </Button>
        </ActionGroup>
      )}
    </Form>
  );
}
