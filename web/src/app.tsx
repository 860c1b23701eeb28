// The console's shell (masthead, navigation) and its route table.
import { useEffect, useState, type ReactNode } from 'react';
import {
  Bullseye,
  Button,
  Dropdown,
  DropdownItem,
  DropdownList,
  EmptyState,
  EmptyStateBody,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadLogo,
  MastheadMain,
  MastheadToggle,
  MenuToggle,
  Nav,
  NavItem,
  NavList,
  Page,
  PageSidebar,
  PageSidebarBody,
  PageToggleButton,
  SkipToContent,
  Spinner,
  Toolbar,
  ToolbarContent,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import BarsIcon from '@patternfly/react-icons/dist/esm/icons/bars-icon';
import { languages, useI18n } from './i18n';
import { Link, matchRoute, navigate, useRoute, type RoutePattern } from './router';
import { useSession, useSessionControl } from './session';
import { LoginPage } from './pages/login';
import { SignInPage } from './pages/sign-in';
import { DashboardPage } from './pages/dashboard';
import { LabsPage } from './pages/labs';
import { LabPage } from './pages/lab';
import { TerminalsPage } from './pages/terminals';
import { UsersPage } from './pages/users';
import { AuditPage } from './pages/audit';
import { SettingsPage } from './pages/settings';
import { ProfilesPage } from './pages/profiles';
import { ProfilePage } from './pages/profile';
import { VmsPage } from './pages/vms';
import { VmPage } from './pages/vm';
import { VmConsolePage } from './pages/vm-console';
import { HostsPage } from './pages/hosts';
import { HostPage } from './pages/host';

const pages: Record<Exclude<RoutePattern, '/login' | '/sign-in'>, () => ReactNode> = {
  '/': DashboardPage,
  '/labs': LabsPage,
  '/labs/:id': LabPage,
  '/terminals': TerminalsPage,
  '/profiles': ProfilesPage,
  '/profiles/:id': ProfilePage,
  '/vms': VmsPage,
  '/vms/:id': VmPage,
  '/vms/:id/console': VmConsolePage,
  '/hosts': HostsPage,
  '/hosts/:id': HostPage,
  '/users': UsersPage,
  '/audit': AuditPage,
  '/settings': SettingsPage,
};

export function App() {
  const route = useRoute();
  const { user } = useSessionControl();
  if (user === undefined) return <Loading />;
  if (route.path === '/sign-in') return <SignInPage />;
  if (user === null) {
    if (route.path === '/login') return <LoginPage />;
    const here = route.path + window.location.search;
    const next = here === '/' ? '' : '?next=' + encodeURIComponent(here);
    return <Redirect to={'/login' + next} />;
  }
  if (route.path === '/login') return <Redirect to="/" />;
  return <Shell />;
}

/** Replaces the location after rendering (navigating while rendering would update others). */
function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return <Loading />;
}

function Loading() {
  const { t } = useI18n();
  return (
    <Bullseye style={{ height: '100vh' }}>
      <Spinner aria-label={t('Loading')} />
    </Bullseye>
  );
}

function NotFound() {
  const { t } = useI18n();
  return (
    <EmptyState titleText={t('Page not found')} headingLevel="h1">
      <EmptyStateBody>
        <Link to="/">{t('Go to the dashboard')}</Link>
      </EmptyStateBody>
    </EmptyState>
  );
}

function Shell() {
  const { t } = useI18n();
  const { can } = useSession();
  const route = useRoute();
  const match = matchRoute(route.path);
  const Content =
    match && match.pattern in pages ? pages[match.pattern as keyof typeof pages] : NotFound;
  const section = '/' + (route.path.split('/')[1] ?? '');
  const items: { to: string; label: string; show: boolean }[] = [
    { to: '/', label: t('Dashboard'), show: true },
    { to: '/labs', label: t('Labs'), show: true },
    { to: '/terminals', label: t('Terminals'), show: true },
    { to: '/profiles', label: t('Profiles'), show: true },
    { to: '/vms', label: t('VMs'), show: true },
    { to: '/hosts', label: t('Hosts'), show: true },
    { to: '/users', label: t('Users'), show: can('admin') },
    { to: '/audit', label: t('Audit log'), show: can('admin') },
    { to: '/settings', label: t('Settings'), show: true },
  ];
  const sidebar = (
    <PageSidebar>
      <PageSidebarBody>
        <Nav aria-label={t('Main navigation')}>
          <NavList>
            {items
              .filter((item) => item.show)
              .map((item) => (
                <NavItem key={item.to} isActive={section === item.to}>
                  <Link to={item.to} aria-current={section === item.to ? 'page' : undefined}>
                    {item.label}
                  </Link>
                </NavItem>
              ))}
          </NavList>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );
  return (
    <Page
      masthead={<Header />}
      sidebar={sidebar}
      isManagedSidebar
      skipToContent={<SkipToContent href="#main">{t('Skip to content')}</SkipToContent>}
      mainContainerId="main"
    >
      <Content key={route.path} />
    </Page>
  );
}

function Header() {
  const { t } = useI18n();
  const { user } = useSession();
  const { logout } = useSessionControl();
  return (
    <Masthead>
      <MastheadMain>
        <MastheadToggle>
          <PageToggleButton isHamburgerButton aria-label={t('Show or hide navigation')}>
            <BarsIcon />
          </PageToggleButton>
        </MastheadToggle>
        <MastheadBrand>
          <MastheadLogo component="a" href="/" onClick={(e) => (e.preventDefault(), navigate('/'))}>
            <strong
              style={{ fontSize: '1.25rem', color: 'var(--pf-t--global--text--color--regular)' }}
            >
              LabVirt
            </strong>
          </MastheadLogo>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Toolbar isFullHeight isStatic>
          <ToolbarContent>
            <ToolbarGroup
              align={{ default: 'alignEnd' }}
              gap={{ default: 'gapMd' }}
              alignItems="center"
            >
              <ToolbarItem>
                <LanguageMenu />
              </ToolbarItem>
              <ToolbarItem alignSelf="center">
                <Link to="/settings" aria-label={t('Settings of {user}', { user: user.username })}>
                  {user.username}
                </Link>
              </ToolbarItem>
              <ToolbarItem>
                <Button variant="secondary" onClick={() => void logout()}>
                  {t('Log out')}
                </Button>
              </ToolbarItem>
            </ToolbarGroup>
          </ToolbarContent>
        </Toolbar>
      </MastheadContent>
    </Masthead>
  );
}

/** The language switcher (masthead and login page). */
export function LanguageMenu() {
  const { t, locale, setLocale } = useI18n();
  const [open, setOpen] = useState(false);
  const current = languages.find((language) => language.locale === locale)?.name ?? locale;
  return (
    <Dropdown
      isOpen={open}
      onOpenChange={setOpen}
      onSelect={() => setOpen(false)}
      popperProps={{ position: 'right' }}
      toggle={(ref) => (
        <MenuToggle
          ref={ref}
          variant="plainText"
          isExpanded={open}
          onClick={() => setOpen(!open)}
          aria-label={t('Language: {language}', { language: current })}
        >
          {current}
        </MenuToggle>
      )}
    >
      <DropdownList>
        {languages.map((language) => (
          <DropdownItem
            key={language.locale}
            lang={language.locale}
            isSelected={language.locale === locale}
            onClick={() => void setLocale(language.locale)}
          >
            {language.name}
          </DropdownItem>
        ))}
      </DropdownList>
    </Dropdown>
  );
}
