// Placeholder until the page lands.
export function DashboardPage() {
  return null;
}
