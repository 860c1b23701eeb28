// Placeholder until the page lands.
export function AuditPage() {
  return null;
}
