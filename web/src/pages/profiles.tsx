// Placeholder until the page lands (web-pages helper).
export function ProfilesPage() {
  return null;
}
