// /settings: the user's language (saved to their account).
import { useState } from 'react';
import {
  Alert,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  PageSection,
  Title,
} from '@patternfly/react-core';
import { ProblemAlert } from '../components/problem-alert';
import { languages, useI18n } from '../i18n';
import { useSession } from '../session';
import { useRoleName } from './common/labels';

export function SettingsPage() {
  const { t, locale, setLocale } = useI18n();
  const { user } = useSession();
  const roleName = useRoleName();
  const [problem, setProblem] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);

  const change = async (value: string) => {
    setProblem(undefined);
    setSaved(false);
    try {
      await setLocale(value);
      setSaved(true);
    } catch (error) {
      setProblem(error);
    }
  };

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">{t('Settings')}</Title>
      </PageSection>
      <PageSection>
        <Form style={{ maxWidth: '30rem' }} onSubmit={(event) => event.preventDefault()}>
          <FormGroup label={t('User')} fieldId="settings-user">
            <span id="settings-user">
              {user.username} ({roleName(user.role)})
            </span>
          </FormGroup>
          <FormGroup label={t('Language')} fieldId="settings-language">
            <FormSelect
              id="settings-language"
              value={locale}
              onChange={(_event, value) => void change(value)}
            >
              {languages.map((language) => (
                <FormSelectOption
                  key={language.locale}
                  value={language.locale}
                  label={language.name}
                />
              ))}
            </FormSelect>
          </FormGroup>
          <ProblemAlert error={problem} />
          {saved && <Alert variant="success" isInline isPlain title={t('Language saved.')} />}
        </Form>
      </PageSection>
    </>
  );
}
