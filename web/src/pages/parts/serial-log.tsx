// What a VM wrote to its serial console, fetched on demand (Refresh), its end in view.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Button, CodeBlock, CodeBlockCode, Flex, FlexItem, Title } from '@patternfly/react-core';
import { api } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';

export function SerialLog({ vmId }: { vmId: string }) {
  const { t } = useI18n();
  const [text, setText] = useState<string | undefined>(undefined);
  const [problem, setProblem] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const box = useRef<HTMLDivElement>(null);

  const load = useCallback(async () => {
    setBusy(true);
    try {
      setText(await api.get<string>(`/vms/${encodeURIComponent(vmId)}/serial`));
      setProblem(undefined);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  }, [vmId]);

  useEffect(() => {
    void load();
  }, [load]);

  // The newest lines matter most: keep the end in view after each load. Reached by a
  // link to #serial (the VM list's), bring the section into view once it has its text.
  const section = useRef<HTMLElement>(null);
  useEffect(() => {
    if (box.current !== null) box.current.scrollTop = box.current.scrollHeight;
    if (text !== undefined && window.location.hash === '#serial')
      section.current?.scrollIntoView({ block: 'start' });
  }, [text]);

  return (
    <section id="serial" aria-labelledby="serial-title" ref={section}>
      <Flex alignItems={{ default: 'alignItemsCenter' }}>
        <FlexItem grow={{ default: 'grow' }}>
          <Title headingLevel="h2" id="serial-title">
            {t('Serial log')}
          </Title>
        </FlexItem>
        <FlexItem>
          <Button variant="secondary" size="sm" onClick={() => void load()} isLoading={busy}>
            {t('Refresh')}
          </Button>
        </FlexItem>
      </Flex>
      <ProblemAlert error={problem} />
      {text !== undefined &&
        (text === '' ? (
          <p>{t('The VM has written nothing to its serial console.')}</p>
        ) : (
          <div
            ref={box}
            tabIndex={0}
            role="region"
            aria-label={t('Serial log')}
            style={{ maxHeight: '24rem', overflow: 'auto', marginTop: '0.5rem' }}
          >
            <CodeBlock>
              <CodeBlockCode>{text}</CodeBlockCode>
            </CodeBlock>
          </div>
        ))}
    </section>
  );
}
