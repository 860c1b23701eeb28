// Placeholder until the page lands (web-pages helper).
export function HostsPage() {
  return null;
}
