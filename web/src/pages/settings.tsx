// Placeholder until the page lands.
export function SettingsPage() {
  return null;
}
