// The user dialogs: add a user (name, role, password, an operator's labs) and set a password.
import { useState, type FormEvent } from 'react';
import {
  Button,
  Checkbox,
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
import type { Lab, Role, User } from '../../types';
import { useRoleName } from '../common/labels';

const roles: readonly Role[] = ['viewer', 'operator', 'admin'];

function useSubmit(action: () => Promise<unknown>, onDone: () => void) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      await action();
      onDone();
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  };
  return { busy, problem, submit };
}

export function AddUserModal({ labs, onClose }: { labs: Lab[]; onClose: () => void }) {
  const { t } = useI18n();
  const roleName = useRoleName();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [granted, setGranted] = useState<ReadonlySet<string>>(new Set());
  const { busy, problem, submit } = useSubmit(
    () =>
      api.post<User>('/users', {
        username: username.trim(),
        password,
        role,
        ...(role === 'operator' ? { labs: [...granted] } : {}),
      }),
    onClose,
  );
  return (
    <Modal variant="small" isOpen onClose={onClose} aria-labelledby="add-user-title">
      <ModalHeader title={t('Add user')} labelId="add-user-title" />
      <ModalBody>
        <Form id="add-user-form" onSubmit={(event) => void submit(event)}>
          <ProblemAlert error={problem} />
          <FormGroup label={t('User name')} isRequired fieldId="user-name">
            <TextInput
              id="user-name"
              isRequired
              autoComplete="off"
              value={username}
              onChange={(_e, value) => setUsername(value)}
              autoFocus
            />
          </FormGroup>
          <FormGroup label={t('Role')} fieldId="user-role">
            <FormSelect
              id="user-role"
              value={role}
              onChange={(_e, value) => setRole(value as Role)}
            >
              {roles.map((r) => (
                <FormSelectOption key={r} value={r} label={roleName(r)} />
              ))}
            </FormSelect>
          </FormGroup>
          {role === 'operator' && (
            <FormGroup role="group" label={t('Labs the operator manages')} fieldId="user-labs">
              {labs.map((lab) => (
                <Checkbox
                  key={lab.id}
                  id={`user-lab-${lab.id}`}
                  label={lab.name}
                  isChecked={granted.has(lab.name)}
                  onChange={(_e, on) => {
                    const next = new Set(granted);
                    if (on) next.add(lab.name);
                    else next.delete(lab.name);
                    setGranted(next);
                  }}
                />
              ))}
            </FormGroup>
          )}
          <FormGroup label={t('Password')} isRequired fieldId="user-password">
            <TextInput
              id="user-password"
              type="password"
              autoComplete="new-password"
              isRequired
              value={password}
              onChange={(_e, value) => setPassword(value)}
            />
          </FormGroup>
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          type="submit"
          form="add-user-form"
          isLoading={busy}
          isDisabled={busy || username.trim() === '' || password === ''}
        >
          {t('Add user')}
        </Button>
        <Button variant="link" onClick={onClose}>
          {t('Cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}

export function PasswordModal({ user, onClose }: { user: User; onClose: () => void }) {
  const { t } = useI18n();
  const [password, setPassword] = useState('');
  const { busy, problem, submit } = useSubmit(
    () => api.put(`/users/${encodeURIComponent(user.id)}/password`, { password }),
    onClose,
  );
  return (
    <Modal variant="small" isOpen onClose={onClose} aria-labelledby="password-title">
      <ModalHeader
        title={t('Reset the password of {user}', { user: user.username })}
        labelId="password-title"
        description={t('Their sessions and API tokens end.')}
      />
      <ModalBody>
        <Form id="password-form" onSubmit={(event) => void submit(event)}>
          <ProblemAlert error={problem} />
          <FormGroup label={t('New password')} isRequired fieldId="new-password">
            <TextInput
              id="new-password"
              type="password"
              autoComplete="new-password"
              isRequired
              value={password}
              onChange={(_e, value) => setPassword(value)}
              autoFocus
            />
          </FormGroup>
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          type="submit"
          form="password-form"
          isLoading={busy}
          isDisabled={busy || password === ''}
        >
          {t('Reset password')}
        </Button>
        <Button variant="link" onClick={onClose}>
          {t('Cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}

export function UserLabsModal({
  user,
  labs,
  onClose,
}: {
  user: User;
  labs: Lab[];
  onClose: () => void;
}) {
  const { t } = useI18n();
  const [granted, setGranted] = useState<ReadonlySet<string>>(new Set(user.labs));
  const { busy, problem, submit } = useSubmit(
    () => api.patch(`/users/${encodeURIComponent(user.id)}`, { labs: [...granted] }),
    onClose,
  );
  return (
    <Modal variant="small" isOpen onClose={onClose} aria-labelledby="user-labs-title">
      <ModalHeader title={t('Labs of {user}', { user: user.username })} labelId="user-labs-title" />
      <ModalBody>
        <Form id="user-labs-form" onSubmit={(event) => void submit(event)}>
          <ProblemAlert error={problem} />
          <FormGroup role="group" label={t('Labs the operator manages')} fieldId="user-labs">
            {labs.length === 0 && t('There are no labs yet.')}
            {labs.map((lab) => (
              <Checkbox
                key={lab.id}
                id={`grant-lab-${lab.id}`}
                label={lab.name}
                isChecked={granted.has(lab.name)}
                onChange={(_e, on) => {
                  const next = new Set(granted);
                  if (on) next.add(lab.name);
                  else next.delete(lab.name);
                  setGranted(next);
                }}
              />
            ))}
          </FormGroup>
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          type="submit"
          form="user-labs-form"
          isLoading={busy}
          isDisabled={busy}
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
