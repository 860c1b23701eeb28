// Placeholder until the page lands.
export function TerminalsPage() {
  return null;
}
