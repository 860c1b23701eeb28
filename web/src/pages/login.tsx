// /login: user name and password; the problem is shown when the server refuses.
import { useState, type FormEvent } from 'react';
import {
  ActionGroup,
  Button,
  Form,
  FormGroup,
  LoginPage as PfLoginPage,
  TextInput,
} from '@patternfly/react-core';
import { LanguageMenu } from '../app';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { navigate, useRoute } from '../router';
import { useSessionControl } from '../session';

/** Only a page of this site (not //elsewhere, nor /\elsewhere) may be where login goes. */
function safeNext(next: string | null): string {
  if (next === null || !next.startsWith('/')) return '/';
  try {
    const url = new URL(next, window.location.origin);
    return url.origin === window.location.origin ? url.pathname + url.search + url.hash : '/';
  } catch {
    return '/';
  }
}

export function LoginPage() {
  const { t } = useI18n();
  const { login } = useSessionControl();
  const { query } = useRoute();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      await login(username, password);
      navigate(safeNext(query.get('next')), { replace: true });
    } catch (error) {
      setProblem(error);
      setBusy(false);
    }
  };

  return (
    <PfLoginPage
      loginTitle={t('Log in to LabVirt')}
      textContent={t('Virtual desktops for computer labs')}
      headerUtilities={<LanguageMenu />}
    >
      <Form onSubmit={(event) => void submit(event)} aria-label={t('Log in')}>
        <ProblemAlert error={problem} />
        <FormGroup label={t('User name')} isRequired fieldId="login-username">
          <TextInput
            id="login-username"
            name="username"
            autoComplete="username"
            isRequired
            value={username}
            onChange={(_event, value) => setUsername(value)}
            autoFocus
          />
        </FormGroup>
        <FormGroup label={t('Password')} isRequired fieldId="login-password">
          <TextInput
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            isRequired
            value={password}
            onChange={(_event, value) => setPassword(value)}
          />
        </FormGroup>
        <ActionGroup>
          <Button type="submit" variant="primary" isBlock isLoading={busy} isDisabled={busy}>
            {t('Log in')}
          </Button>
        </ActionGroup>
      </Form>
    </PfLoginPage>
  );
}
