// Placeholder until the page lands (web-pages helper).
export function VmsPage() {
  return null;
}
