// Set or clear a lab's address pool (its terminals' VMs get DHCP addresses from it).
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

export function AddressPoolModal({ lab, onClose }: { lab: Lab; onClose: () => void }) {
  const { t } = useI18n();
  const [pool, setPool] = useState(lab.addressPool ?? '');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);

  const save = async (value: string | null) => {
    setBusy(true);
    setProblem(undefined);
    try {
      await api.put(`/labs/${encodeURIComponent(lab.id)}/address-pool`, { pool: value });
      onClose();
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void save(pool.trim() === '' ? null : pool.trim());
  };

  return (
    <Modal variant="small" isOpen onClose={onClose} aria-labelledby="pool-title">
      <ModalHeader title={t('Address pool of {lab}', { lab: lab.name })} labelId="pool-title" />
      <ModalBody>
        <Form id="pool-form" onSubmit={submit}>
          <ProblemAlert error={problem} />
          <FormGroup label={t('Address pool')} fieldId="lab-pool">
            <TextInput
              id="lab-pool"
              value={pool}
              placeholder="10.0.0.10-10.0.0.99"
              onChange={(_e, value) => setPool(value)}
              autoFocus
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem>
                  {t('An IPv4 range (FIRST-LAST) or a subnet (10.0.0.0/24); empty for none.')}
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" type="submit" form="pool-form" isLoading={busy} isDisabled={busy}>
          {t('Save')}
        </Button>
        {lab.addressPool !== null && (
          <Button variant="secondary" isDanger onClick={() => void save(null)} isDisabled={busy}>
            {t('Clear pool')}
          </Button>
        )}
        <Button variant="link" onClick={onClose}>
          {t('Cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}
