// The "Create lab" dialog: name, description and time zone; opens the new lab's page.
import { useState, type FormEvent } from 'react';
import {
  Button,
  Form,
  FormGroup,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  TextInput,
} from '@patternfly/react-core';
import { api } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import { navigate, pathTo } from '../../router';
import type { Lab } from '../../types';

function browserTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function CreateLabModal({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [timezone, setTimezone] = useState(browserTimezone);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      const lab = await api.post<Lab>('/labs', { name: name.trim(), description, timezone });
      onClose();
      navigate(pathTo('/labs', lab.id));
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  };

  return (
    <Modal variant="small" isOpen onClose={onClose} aria-labelledby="create-lab-title">
      <ModalHeader title={t('Create lab')} labelId="create-lab-title" />
      <ModalBody>
        <Form id="create-lab-form" onSubmit={(event) => void submit(event)}>
          <ProblemAlert error={problem} />
          <FormGroup label={t('Name')} isRequired fieldId="lab-name">
            <TextInput
              id="lab-name"
              isRequired
              value={name}
              onChange={(_e, value) => setName(value)}
              autoFocus
            />
          </FormGroup>
          <FormGroup label={t('Description')} fieldId="lab-description">
            <TextInput
              id="lab-description"
              value={description}
              onChange={(_e, value) => setDescription(value)}
            />
          </FormGroup>
          <FormGroup label={t('Time zone')} fieldId="lab-timezone">
            <TextInput
              id="lab-timezone"
              value={timezone}
              onChange={(_e, value) => setTimezone(value)}
            />
          </FormGroup>
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          type="submit"
          form="create-lab-form"
          isLoading={busy}
          isDisabled={busy || name.trim() === ''}
        >
          {t('Create lab')}
        </Button>
        <Button variant="link" onClick={onClose}>
          {t('Cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}
