// A VM's screen in the browser: a single-use ticket from the API, then noVNC over the
// console WebSocket (the server bridges it to the VM's VNC Unix socket).
import { useCallback, useEffect, useRef, useState } from 'react';
import RFB from '@novnc/novnc';
import { Alert, Button, Label, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { api } from '../api';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useSession } from '../session';
import type { ConsoleTicket } from '../types';

type Status = 'connecting' | 'connected' | 'disconnected';

interface Props {
  vmId: string;
  /** Watch only (viewers always are: the server drops their input anyway). */
  viewOnly?: boolean;
  /** The screen area's height (CSS); the width is the container's. */
  height?: string;
}

/** The console's WebSocket address: the ticket's path on this page's own origin. */
export function consoleUrl(path: string, where: Location = window.location): string {
  return `${where.protocol === 'https:' ? 'wss' : 'ws'}://${where.host}${path}`;
}

export function VncConsole({ vmId, viewOnly = false, height = '70vh' }: Props) {
  const { t } = useI18n();
  const { can } = useSession();
  const screen = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB | null>(null);
  const [status, setStatus] = useState<Status>('connecting');
  const [problem, setProblem] = useState<unknown>(undefined);
  const [reason, setReason] = useState<string | null>(null);
  const [watchOnly, setWatchOnly] = useState(viewOnly);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let gone = false;
    let client: RFB | null = null;
    setStatus('connecting');
    setProblem(undefined);
    setReason(null);
    api
      .post<ConsoleTicket>(`/vms/${encodeURIComponent(vmId)}/console`, {})
      .then((ticket) => {
        const target = screen.current;
        if (gone || target === null) return;
        const readOnly = viewOnly || ticket.viewOnly;
        setWatchOnly(readOnly);
        client = new RFB(target, consoleUrl(ticket.path), { wsProtocols: [] });
        client.viewOnly = readOnly;
        client.scaleViewport = true;
        client.background = 'var(--pf-t--global--background--color--inverse--default, #151515)';
        client.addEventListener('connect', () => {
          if (gone) return;
          setStatus('connected');
          // noVNC's canvas is not in the tab order: put it there, named, for keyboard users.
          const canvas = target.querySelector('canvas');
          if (canvas !== null) {
            canvas.tabIndex = 0;
            canvas.setAttribute('aria-label', t('VM screen'));
          }
        });
        client.addEventListener('disconnect', () => {
          // noVNC complains when an ended connection is told to disconnect again.
          client = null;
          if (gone) return;
          rfb.current = null;
          setStatus('disconnected');
        });
        client.addEventListener('securityfailure', (event) => {
          if (!gone) setReason(event.detail.reason ?? null);
        });
        client.addEventListener('credentialsrequired', () => {
          // The console's display never asks for one (a VM started before LabVirt gave
          // ticketed displays a console server of their own does): nothing to answer.
          if (!gone) client?.disconnect();
        });
        rfb.current = client;
      })
      .catch((error: unknown) => {
        if (gone) return;
        setProblem(error);
        setStatus('disconnected');
      });
    return () => {
      gone = true;
      rfb.current = null;
      client?.disconnect();
    };
    // Not on t: a language change need not reconnect.
  }, [vmId, viewOnly, attempt]);

  const reconnect = useCallback(() => setAttempt((n) => n + 1), []);
  const ctrlAltDel = () => {
    rfb.current?.sendCtrlAltDel();
    rfb.current?.focus();
  };

  return (
    <section aria-label={t('VM console')}>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <span role="status">
              {status === 'connecting' && <Label color="blue">{t('Connecting…')}</Label>}
              {status === 'connected' && <Label color="green">{t('Connected')}</Label>}
              {status === 'disconnected' && <Label color="grey">{t('Disconnected')}</Label>}
            </span>
          </ToolbarItem>
          {watchOnly && (
            <ToolbarItem>
              <Label color="purple">{t('View only')}</Label>
            </ToolbarItem>
          )}
          {can('operator') && !watchOnly && (
            <ToolbarItem>
              <Button
                variant="secondary"
                size="sm"
                isDisabled={status !== 'connected'}
                onClick={ctrlAltDel}
              >
                {t('Send Ctrl+Alt+Del')}
              </Button>
            </ToolbarItem>
          )}
          {status === 'disconnected' && (
            <ToolbarItem>
              <Button variant="primary" size="sm" onClick={reconnect}>
                {t('Reconnect')}
              </Button>
            </ToolbarItem>
          )}
        </ToolbarContent>
      </Toolbar>
      {problem !== undefined && <ProblemAlert error={problem} />}
      {reason !== null && (
        <Alert
          isInline
          variant="danger"
          title={t('The VM refused the connection: {reason}', { reason })}
        />
      )}
      <div
        ref={screen}
        data-testid="vnc-screen"
        style={{ width: '100%', height, background: '#151515', overflow: 'hidden' }}
      />
    </section>
  );
}
