// Choose the profiles a lab may use and its default one (PUT /labs/:lab/profiles).
import { useState } from 'react';
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
} from '@patternfly/react-core';
import { api } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import { useResource } from '../../live';
import type { Lab, Profile } from '../../types';
import { Loading } from '../common/empty';

export function LabProfilesModal({ lab, onClose }: { lab: Lab; onClose: () => void }) {
  const { t } = useI18n();
  const profiles = useResource<Profile[]>('/profiles', ['profiles']);
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set(lab.profiles));
  const [fallback, setFallback] = useState(lab.defaultProfile ?? '');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);

  const toggle = (name: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(name);
    else next.delete(name);
    setChosen(next);
    if (!on && fallback === name) setFallback('');
  };
  const save = async () => {
    setBusy(true);
    setProblem(undefined);
    try {
      await api.put(`/labs/${encodeURIComponent(lab.id)}/profiles`, {
        profiles: [...chosen],
        default: fallback === '' ? null : fallback,
      });
      onClose();
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  };

  return (
    <Modal variant="small" isOpen onClose={onClose} aria-labelledby="lab-profiles-title">
      <ModalHeader title={t('Profiles of {lab}', { lab: lab.name })} labelId="lab-profiles-title" />
      <ModalBody>
        <ProblemAlert error={profiles.error ?? problem} />
        {profiles.data === undefined ? (
          <Loading />
        ) : (
          <Form onSubmit={(event) => event.preventDefault()}>
            <FormGroup role="group" label={t('Profiles the lab may use')} fieldId="lab-profiles">
              {profiles.data.length === 0 && t('There are no profiles yet.')}
              {profiles.data.map((profile) => (
                <Checkbox
                  key={profile.id}
                  id={`lab-profile-${profile.id}`}
                  label={profile.name}
                  isChecked={chosen.has(profile.name)}
                  onChange={(_e, on) => toggle(profile.name, on)}
                />
              ))}
            </FormGroup>
            <FormGroup label={t('Default profile')} fieldId="lab-default-profile">
              <FormSelect
                id="lab-default-profile"
                value={fallback}
                onChange={(_e, value) => setFallback(value)}
              >
                <FormSelectOption value="" label={t('none')} />
                {[...chosen].map((name) => (
                  <FormSelectOption key={name} value={name} label={name} />
                ))}
              </FormSelect>
            </FormGroup>
          </Form>
        )}
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" onClick={() => void save()} isLoading={busy} isDisabled={busy}>
          {t('Save')}
        </Button>
        <Button variant="link" onClick={onClose}>
          {t('Cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}
