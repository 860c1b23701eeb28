// Who is logged in: GET /auth/session at start (401: nobody), login, sign-in links and
// logout. The signed-in pages use useSession(); the login pages useSessionControl().
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { api, ApiError, onUnauthorized, setCsrfToken } from './api';
import { browserLocale, setLanguagePersisted, useApplyLocale } from './i18n';
import { closeLive } from './live';
import { navigate } from './router';
import type { LoginAnswer, Role, SessionInfo, User } from './types';

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export interface Session {
  user: User;
  role: Role;
  /** Whether the user's role is at least `min`. */
  can(min: Role): boolean;
}

export interface SessionControl {
  /** undefined while the session is being checked; null when nobody is logged in. */
  user: User | null | undefined;
  login(username: string, password: string): Promise<void>;
  signIn(token: string): Promise<void>;
  logout(): Promise<void>;
}

const ControlContext = createContext<SessionControl | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const applyLocale = useApplyLocale();

  const begin = useCallback(
    async (answer: SessionInfo | LoginAnswer) => {
      setCsrfToken(answer.csrfToken);
      setLanguagePersisted(true);
      await applyLocale(answer.user.language ?? browserLocale());
      setUser(answer.user);
    },
    [applyLocale],
  );

  const end = useCallback(async () => {
    setCsrfToken(null);
    setLanguagePersisted(false);
    closeLive();
    await applyLocale(browserLocale());
    setUser(null);
  }, [applyLocale]);

  useEffect(() => {
    api.get<SessionInfo>('/auth/session').then(begin, (error: unknown) => {
      void end();
      if (!(error instanceof ApiError) || error.status !== 401) console.error(error);
    });
  }, [begin, end]);

  // A 401 later (session expired or revoked) ends the session here too.
  useEffect(() => onUnauthorized(() => void end()), [end]);

  const control = useMemo<SessionControl>(
    () => ({
      user,
      login: async (username, password) => {
        await begin(await api.post<LoginAnswer>('/auth/login', { username, password }));
      },
      signIn: async (token) => {
        await begin(await api.post<LoginAnswer>('/auth/link', { token }));
      },
      logout: async () => {
        try {
          await api.post('/auth/logout');
        } finally {
          await end();
          navigate('/login');
        }
      },
    }),
    [user, begin, end],
  );
  return <ControlContext.Provider value={control}>{children}</ControlContext.Provider>;
}

export function useSessionControl(): SessionControl {
  const control = useContext(ControlContext);
  if (control === null) throw new Error('useSessionControl outside SessionProvider');
  return control;
}

/** The logged-in user; only for pages shown inside the signed-in shell. */
export function useSession(): Session {
  const { user } = useSessionControl();
  if (!user) throw new Error('useSession without a logged-in user');
  return useMemo(
    () => ({ user, role: user.role, can: (min: Role) => rank[user.role] >= rank[min] }),
    [user],
  );
}
