// The "Add host" dialog: a name (and its vCPU ratio, shared store); then the one-time
// command that enrols the host's agent, to copy and run on that machine.
import { useState, type FormEvent } from 'react';
import {
  Button,
  Checkbox,
  ClipboardCopy,
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
import type { Host } from '../../types';

interface HostAdded {
  host: Host;
  joinToken: string;
  joinCommand: string;
  expiresAt: string;
}

export function AddHostModal({ onClose }: { onClose: () => void }) {
  const { t, formatDate } = useI18n();
  const [name, setName] = useState('');
  const [ratio, setRatio] = useState('');
  const [sharedStore, setSharedStore] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);
  const [added, setAdded] = useState<HostAdded | undefined>(undefined);

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      const cpuRatio = ratio.trim() === '' ? undefined : Number(ratio.trim().replace(',', '.'));
      setAdded(
        await api.post<HostAdded>('/hosts', {
          name: name.trim(),
          ...(cpuRatio !== undefined ? { cpuRatio } : {}),
          ...(sharedStore ? { sharedStore } : {}),
        }),
      );
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal variant="medium" isOpen onClose={onClose} aria-labelledby="add-host-title">
      <ModalHeader title={t('Add host')} labelId="add-host-title" />
      <ModalBody>
        {added === undefined ? (
          <Form id="add-host-form" onSubmit={(event) => void submit(event)}>
            <ProblemAlert error={problem} />
            <FormGroup label={t('Name')} isRequired fieldId="host-name">
              <TextInput
                id="host-name"
                isRequired
                value={name}
                onChange={(_e, value) => setName(value)}
                autoFocus
              />
            </FormGroup>
            <FormGroup label={t('vCPU ratio')} fieldId="host-ratio">
              <TextInput
                id="host-ratio"
                inputMode="decimal"
                placeholder="4"
                value={ratio}
                onChange={(_e, value) => setRatio(value)}
              />
            </FormGroup>
            <Checkbox
              id="host-shared-store"
              label={t('Its image store is the controller’s (nothing is copied to it)')}
              isChecked={sharedStore}
              onChange={(_e, checked) => setSharedStore(checked)}
            />
          </Form>
        ) : (
          <>
            <p>
              {t(
                'Run this on {name} before {time}. The token works once; the host appears as pending until its agent joins.',
                { name: added.host.name, time: formatDate(added.expiresAt) },
              )}
            </p>
            <ClipboardCopy
              isReadOnly
              hoverTip={t('Copy')}
              clickTip={t('Copied')}
              variant="expansion"
              isExpanded
              className="pf-v6-u-mt-md"
            >
              {added.joinCommand}
            </ClipboardCopy>
          </>
        )}
      </ModalBody>
      <ModalFooter>
        {added === undefined ? (
          <>
            <Button
              variant="primary"
              type="submit"
              form="add-host-form"
              isLoading={busy}
              isDisabled={busy || name.trim() === ''}
            >
              {t('Add host')}
            </Button>
            <Button variant="link" onClick={onClose}>
              {t('Cancel')}
            </Button>
          </>
        ) : (
          <Button variant="primary" onClick={onClose}>
            {t('Done')}
          </Button>
        )}
      </ModalFooter>
    </Modal>
  );
}
