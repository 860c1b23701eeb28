// The terminal dialogs: add one by MAC, enrol a pending one, or move one to another lab.
import { useState, type FormEvent } from 'react';
import {
  Button,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  TextInput,
} from '@patternfly/react-core';
import { api } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import type { Lab, Terminal } from '../../types';

export type TerminalAction =
  { kind: 'add' } | { kind: 'enrol'; terminal: Terminal } | { kind: 'move'; terminal: Terminal };

export function TerminalModal({
  action,
  labs,
  onClose,
}: {
  action: TerminalAction;
  labs: Lab[];
  onClose: () => void;
}) {
  const { t } = useI18n();
  const terminal = action.kind === 'add' ? undefined : action.terminal;
  const otherLabs = labs.filter((lab) => lab.name !== terminal?.lab && lab.id !== terminal?.lab);
  const [mac, setMac] = useState('');
  // A pending terminal is named after its MAC, which is not a valid name to send back:
  // left empty, the server keeps its own default.
  const [name, setName] = useState(
    terminal === undefined || terminal.name === terminal.mac ? '' : terminal.name,
  );
  const [lab, setLab] = useState(otherLabs[0]?.id ?? '');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);

  const title =
    action.kind === 'add'
      ? t('Add terminal')
      : action.kind === 'enrol'
        ? t('Enrol terminal {mac}', { mac: action.terminal.mac })
        : t('Move terminal {name}', { name: action.terminal.name });
  const submitText =
    action.kind === 'add' ? t('Add terminal') : action.kind === 'enrol' ? t('Enrol') : t('Move');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    const named = name.trim() === '' ? {} : { name: name.trim() };
    try {
      if (action.kind === 'add') await api.post('/terminals', { mac: mac.trim(), lab, ...named });
      else if (action.kind === 'enrol')
        await api.post(`/terminals/${encodeURIComponent(action.terminal.id)}/enrol`, {
          lab,
          ...named,
        });
      else await api.patch(`/terminals/${encodeURIComponent(action.terminal.id)}`, { lab });
      onClose();
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  };

  return (
    <Modal variant="small" isOpen onClose={onClose} aria-labelledby="terminal-modal-title">
      <ModalHeader title={title} labelId="terminal-modal-title" />
      <ModalBody>
        <Form id="terminal-form" onSubmit={(event) => void submit(event)}>
          <ProblemAlert error={problem} />
          {action.kind === 'add' && (
            <FormGroup label={t('MAC address')} isRequired fieldId="terminal-mac">
              <TextInput
                id="terminal-mac"
                isRequired
                value={mac}
                placeholder="52:54:00:12:34:56"
                onChange={(_e, value) => setMac(value)}
                autoFocus
              />
            </FormGroup>
          )}
          <FormGroup label={t('Lab')} isRequired fieldId="terminal-lab">
            <FormSelect id="terminal-lab" value={lab} onChange={(_e, value) => setLab(value)}>
              {otherLabs.length === 0 && <FormSelectOption value="" label={t('no labs')} />}
              {otherLabs.map((entry) => (
                <FormSelectOption key={entry.id} value={entry.id} label={entry.name} />
              ))}
            </FormSelect>
          </FormGroup>
          {action.kind !== 'move' && (
            <FormGroup label={t('Name')} fieldId="terminal-name">
              <TextInput id="terminal-name" value={name} onChange={(_e, value) => setName(value)} />
            </FormGroup>
          )}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          type="submit"
          form="terminal-form"
          isLoading={busy}
          isDisabled={busy || lab === ''}
        >
          {submitText}
        </Button>
        <Button variant="link" onClick={onClose}>
          {t('Cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}
