// The profile list's dialogs: create a profile, import an image into one (a job), clone one
// (linked at once, or full as a job). Each shows the API's problem inline and keeps the
// dialog open on failure.
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import {
  Button,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  Radio,
  TextInput,
} from '@patternfly/react-core';
import { api } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import type { Job, Profile, Version } from '../../types';

interface DialogProps {
  title: string;
  submitText: string;
  onClose: () => void;
  /** Resolves when done (the dialog closes); throws to show the problem. */
  onSubmit: () => Promise<void>;
  canSubmit: boolean;
  children: ReactNode;
}

function Dialog({ title, submitText, onClose, onSubmit, canSubmit, children }: DialogProps) {
  const { t } = useI18n();
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);
  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSubmit || busy) return;
    setBusy(true);
    setProblem(undefined);
    try {
      await onSubmit();
      onClose();
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  };
  return (
    <Modal variant="small" isOpen onClose={busy ? undefined : onClose} aria-labelledby={id}>
      <ModalHeader title={title} labelId={id} />
      <ModalBody>
        <Form id={`${id}-form`} onSubmit={(event) => void submit(event)}>
          {children}
        </Form>
        <ProblemAlert error={problem} />
      </ModalBody>
      <ModalFooter>
        <Button
          type="submit"
          form={`${id}-form`}
          variant="primary"
          isDisabled={!canSubmit || busy}
          isLoading={busy}
        >
          {submitText}
        </Button>
        <Button variant="link" onClick={onClose} isDisabled={busy}>
          {t('Cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}

export function CreateProfileDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void;
  onCreated: (profile: Profile) => void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  return (
    <Dialog
      title={t('Create a profile')}
      submitText={t('Create')}
      onClose={onClose}
      canSubmit={name.trim() !== ''}
      onSubmit={async () => {
        const body = { name: name.trim(), ...(description !== '' ? { description } : {}) };
        onCreated(await api.post<Profile>('/profiles', body));
      }}
    >
      <FormGroup label={t('Name')} isRequired fieldId="profile-name">
        <TextInput id="profile-name" value={name} onChange={(_e, v) => setName(v)} isRequired />
        <FormHelperText>
          <HelperText>
            <HelperTextItem>
              {t('Letters, digits, spaces, "_", "." and "-"; the settings can be changed later.')}
            </HelperTextItem>
          </HelperText>
        </FormHelperText>
      </FormGroup>
      <FormGroup label={t('Description')} fieldId="profile-description">
        <TextInput
          id="profile-description"
          value={description}
          onChange={(_e, v) => setDescription(v)}
        />
      </FormGroup>
    </Dialog>
  );
}

export function ImportDialog({
  profile,
  onClose,
  onStarted,
}: {
  profile: Pick<Profile, 'id' | 'name'>;
  onClose: () => void;
  onStarted: (job: Job) => void;
}) {
  const { t } = useI18n();
  const [path, setPath] = useState('');
  const [format, setFormat] = useState('');
  return (
    <Dialog
      title={t('Import an image into {profile}', { profile: profile.name })}
      submitText={t('Import')}
      onClose={onClose}
      canSubmit={path.trim() !== ''}
      onSubmit={async () => {
        const body = { path: path.trim(), ...(format !== '' ? { format } : {}) };
        onStarted(await api.post<Job>(`/profiles/${encodeURIComponent(profile.id)}/import`, body));
      }}
    >
      <FormGroup label={t('Image file')} isRequired fieldId="import-path">
        <TextInput
          id="import-path"
          value={path}
          onChange={(_e, v) => setPath(v)}
          placeholder="disk.qcow2"
          isRequired
        />
        <FormHelperText>
          <HelperText>
            <HelperTextItem>
              {t(
                'A file in the server’s import directory (--import-dir), by name or full path. It becomes the profile’s next version.',
              )}
            </HelperTextItem>
          </HelperText>
        </FormHelperText>
      </FormGroup>
      <FormGroup label={t('Format')} fieldId="import-format">
        <FormSelect id="import-format" value={format} onChange={(_e, v) => setFormat(v)}>
          <FormSelectOption value="" label={t('Detect')} />
          <FormSelectOption value="qcow2" label="qcow2" />
          <FormSelectOption value="raw" label="raw" />
          <FormSelectOption value="vmdk" label="vmdk" />
          <FormSelectOption value="vdi" label="vdi" />
          <FormSelectOption value="vhdx" label="vhdx" />
        </FormSelect>
      </FormGroup>
    </Dialog>
  );
}

export function CloneDialog({
  profile,
  onClose,
  onCloned,
  onStarted,
}: {
  profile: Pick<Profile, 'id' | 'name'>;
  onClose: () => void;
  onCloned: (profile: Profile) => void;
  onStarted: (job: Job) => void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [mode, setMode] = useState<'linked' | 'full'>('linked');
  return (
    <Dialog
      title={t('Clone {profile}', { profile: profile.name })}
      submitText={t('Clone')}
      onClose={onClose}
      canSubmit={name.trim() !== ''}
      onSubmit={async () => {
        const answer = await api.post<Job | { profile: Profile; version: Version }>(
          `/profiles/${encodeURIComponent(profile.id)}/clone`,
          { name: name.trim(), mode },
        );
        if ('profile' in answer && typeof answer.profile === 'object') onCloned(answer.profile);
        else onStarted(answer as Job);
      }}
    >
      <FormGroup label={t('Name of the new profile')} isRequired fieldId="clone-name">
        <TextInput id="clone-name" value={name} onChange={(_e, v) => setName(v)} isRequired />
      </FormGroup>
      <FormGroup role="radiogroup" isInline fieldId="clone-mode" label={t('Kind of clone')}>
        <Radio
          id="clone-linked"
          name="clone-mode"
          label={t('Linked: a layer on the published version, made at once')}
          isChecked={mode === 'linked'}
          onChange={() => setMode('linked')}
        />
        <Radio
          id="clone-full"
          name="clone-mode"
          label={t('Full: an independent copy (takes a while)')}
          isChecked={mode === 'full'}
          onChange={() => setMode('full')}
        />
      </FormGroup>
    </Dialog>
  );
}
