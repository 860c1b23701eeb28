// History routing without a library: the path is state, `navigate` pushes it, `Link`
// renders a real <a href> (so middle-click and the keyboard work) that navigates in place.
import { useSyncExternalStore, type MouseEvent, type ReactNode } from 'react';

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

const location = (): string => window.location.pathname + window.location.search;

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === location()) return;
  if (options.replace === true) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  listeners.forEach((listener) => listener());
  window.scrollTo(0, 0);
}

export interface Route {
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
}

/** The route patterns of the console; `:name` segments become params. */
export const routePatterns = [
  '/',
  '/login',
  '/sign-in',
  '/labs',
  '/labs/:id',
  '/terminals',
  '/profiles',
  '/profiles/:id',
  '/vms',
  '/vms/:id',
  '/vms/:id/console',
  '/hosts',
  '/hosts/:id',
  '/users',
  '/audit',
  '/settings',
] as const;

export type RoutePattern = (typeof routePatterns)[number];

/** The pattern a path matches and its params, or undefined. */
export function matchRoute(
  path: string,
): { pattern: RoutePattern; params: Record<string, string> } | undefined {
  const parts = path.split('/').filter((part) => part !== '');
  for (const pattern of routePatterns) {
    const want = pattern.split('/').filter((part) => part !== '');
    if (want.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    want.forEach((segment, index) => {
      const actual = parts[index] ?? '';
      if (segment.startsWith(':')) {
        try {
          params[segment.slice(1)] = decodeURIComponent(actual);
        } catch {
          ok = false;
        }
      } else if (segment !== actual) ok = false;
    });
    if (ok) return { pattern, params };
  }
  return undefined;
}

let cachedKey = '';
let cachedRoute: Route = { path: '/', params: {}, query: new URLSearchParams() };

function snapshot(): Route {
  const key = location();
  if (key !== cachedKey) {
    cachedKey = key;
    const path = window.location.pathname;
    cachedRoute = {
      path,
      params: matchRoute(path)?.params ?? {},
      query: new URLSearchParams(window.location.search),
    };
  }
  return cachedRoute;
}

export function useRoute(): Route {
  return useSyncExternalStore(subscribe, snapshot);
}

export interface LinkProps {
  to: string;
  children: ReactNode;
  className?: string;
  'aria-label'?: string;
  'aria-current'?: 'page' | undefined;
}

export function Link({ to, children, ...rest }: LinkProps) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
      return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

/** A path with encoded segments: path('/labs', id) → /labs/<id>. */
export function pathTo(...segments: string[]): string {
  return segments.map((segment, i) => (i === 0 ? segment : encodeURIComponent(segment))).join('/');
}
