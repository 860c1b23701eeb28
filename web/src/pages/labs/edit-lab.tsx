// The "Edit lab" dialog: name, description, time zone and idle time-out (PATCH /labs/:lab).
import { useState, type FormEvent } from 'react';
import {
  Button,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  TextInput,
} from '@patternfly/react-core';
import { api } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import type { Lab } from '../../types';

export function EditLabModal({ lab, onClose }: { lab: Lab; onClose: () => void }) {
  const { t } = useI18n();
  const [name, setName] = useState(lab.name);
  const [description, setDescription] = useState(lab.description);
  const [timezone, setTimezone] = useState(lab.timezone);
  const [idle, setIdle] = useState(lab.idleMinutes === null ? '' : String(lab.idleMinutes));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      await api.patch(`/labs/${encodeURIComponent(lab.id)}`, {
        ...(name.trim() !== lab.name ? { name: name.trim() } : {}),
        description,
        timezone: timezone.trim(),
        idleMinutes: idle.trim() === '' ? null : Number(idle),
      });
      onClose();
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  };

  return (
    <Modal variant="small" isOpen onClose={onClose} aria-labelledby="edit-lab-title">
      <ModalHeader title={t('Edit lab')} labelId="edit-lab-title" />
      <ModalBody>
        <Form id="edit-lab-form" onSubmit={(event) => void submit(event)}>
          <ProblemAlert error={problem} />
          <FormGroup label={t('Name')} isRequired fieldId="edit-lab-name">
            <TextInput
              id="edit-lab-name"
              isRequired
              value={name}
              onChange={(_e, value) => setName(value)}
            />
          </FormGroup>
          <FormGroup label={t('Description')} fieldId="edit-lab-description">
            <TextInput
              id="edit-lab-description"
              value={description}
              onChange={(_e, value) => setDescription(value)}
            />
          </FormGroup>
          <FormGroup label={t('Time zone')} fieldId="edit-lab-timezone">
            <TextInput
              id="edit-lab-timezone"
              value={timezone}
              onChange={(_e, value) => setTimezone(value)}
            />
          </FormGroup>
          <FormGroup label={t('Idle time-out (minutes)')} fieldId="edit-lab-idle">
            <TextInput
              id="edit-lab-idle"
              type="number"
              min={1}
              max={1440}
              value={idle}
              onChange={(_e, value) => setIdle(value)}
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem>
                  {t('A VM nobody is connected to ends after this long; empty for never.')}
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          type="submit"
          form="edit-lab-form"
          isLoading={busy}
          isDisabled={busy || name.trim() === ''}
        >
          {t('Save')}
        </Button>
        <Button variant="link" onClick={onClose}>
          {t('Cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}
