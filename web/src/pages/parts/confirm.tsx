// A button that asks before it acts: a small modal with the consequence, the action (with
// its progress and any error) and Cancel.
import { useId, useState, type ReactNode } from 'react';
import {
  Button,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  Tooltip,
} from '@patternfly/react-core';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';

interface Props {
  /** The button's text (also the confirming button's, unless confirmText is given). */
  text: string;
  title: string;
  children: ReactNode;
  onConfirm: () => Promise<unknown>;
  confirmText?: string;
  danger?: boolean;
  isDisabled?: boolean;
  variant?: 'primary' | 'secondary' | 'danger' | 'link' | 'tertiary';
  size?: 'sm' | 'default';
  /** Shown instead of the text (which stays its accessible name and tooltip). */
  icon?: ReactNode;
}

export function ConfirmButton({
  text,
  title,
  children,
  onConfirm,
  confirmText,
  danger = true,
  isDisabled = false,
  variant = 'secondary',
  size = 'sm',
  icon,
}: Props) {
  const { t } = useI18n();
  const id = useId();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);
  const close = () => {
    if (busy) return;
    setOpen(false);
    setProblem(undefined);
  };
  const confirm = async () => {
    setBusy(true);
    setProblem(undefined);
    try {
      await onConfirm();
      setOpen(false);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      {icon !== undefined ? (
        <Tooltip content={text} aria="none">
          <Button
            variant="plain"
            size={size === 'sm' ? 'sm' : 'default'}
            aria-label={text}
            icon={icon}
            isDisabled={isDisabled}
            onClick={() => setOpen(true)}
          />
        </Tooltip>
      ) : (
        <Button
          variant={variant}
          size={size === 'sm' ? 'sm' : 'default'}
          isDanger={danger && variant !== 'danger' && variant !== 'primary'}
          isDisabled={isDisabled}
          onClick={() => setOpen(true)}
        >
          {text}
        </Button>
      )}
      <Modal
        variant="small"
        isOpen={open}
        onClose={close}
        aria-labelledby={`${id}-title`}
        aria-describedby={`${id}-body`}
      >
        <ModalHeader
          title={title}
          labelId={`${id}-title`}
          {...(danger ? { titleIconVariant: 'warning' as const } : {})}
        />
        <ModalBody id={`${id}-body`}>
          {children}
          {problem !== undefined && <ProblemAlert error={problem} />}
        </ModalBody>
        <ModalFooter>
          <Button
            variant={danger ? 'danger' : 'primary'}
            onClick={() => void confirm()}
            isLoading={busy}
            isDisabled={busy}
          >
            {confirmText ?? text}
          </Button>
          <Button variant="link" onClick={close} isDisabled={busy}>
            {t('Cancel')}
          </Button>
        </ModalFooter>
      </Modal>
    </>
  );
}
