// Placeholder until the page lands (web-pages helper).
export function HostPage() {
  return null;
}
