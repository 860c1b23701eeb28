// /sign-in?token=…: a demo's one-time sign-in link. Posts the token, then the dashboard.
import { useEffect, useRef, useState } from 'react';
import { Bullseye, Button, Card, CardBody, CardTitle, Spinner } from '@patternfly/react-core';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { navigate, useRoute } from '../router';
import { useSessionControl } from '../session';

export function SignInPage() {
  const { t } = useI18n();
  const { signIn } = useSessionControl();
  const { query } = useRoute();
  const token = query.get('token') ?? '';
  const [problem, setProblem] = useState<unknown>(undefined);
  const started = useRef(false);

  useEffect(() => {
    // Once only: the token is single use (StrictMode runs effects twice in development).
    if (started.current) return;
    started.current = true;
    if (token === '') {
      setProblem(new Error(t('This sign-in link has no token.')));
      return;
    }
    signIn(token).then(
      () => navigate('/', { replace: true }),
      (error: unknown) => setProblem(error),
    );
  }, [signIn, token, t]);

  return (
    <Bullseye style={{ minHeight: '100vh' }}>
      <Card style={{ width: '28rem' }}>
        <CardTitle component="h1">{t('Signing in')}</CardTitle>
        <CardBody>
          {problem === undefined ? (
            <Spinner size="lg" aria-label={t('Signing in')} />
          ) : (
            <>
              <ProblemAlert error={problem} title={t('The sign-in link did not work')} />
              <Button variant="primary" onClick={() => navigate('/login', { replace: true })}>
                {t('Go to the login page')}
              </Button>
            </>
          )}
        </CardBody>
      </Card>
    </Bullseye>
  );
}
